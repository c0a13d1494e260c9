package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

var stampHeader = [2]string{"x-wasm-workshop", "hello"}

type stamp struct {
	types.DefaultHttpContext
	id uint32
}

func makeStamp(id uint32) types.HttpContext { return &stamp{id: id} }

func (s *stamp) OnHttpResponseHeaders(int, bool) types.Action {
	if err := proxywasm.AddHttpResponseHeader(stampHeader[0], stampHeader[1]); err != nil {
		proxywasm.LogErrorf("stamp %d: %v", s.id, err)
	}
	proxywasm.LogInfof("stamp %d done", s.id)
	return types.ActionContinue
}

func init() { proxywasm.SetHttpContext(makeStamp) }

func main() {}
