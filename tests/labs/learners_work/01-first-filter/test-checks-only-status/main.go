package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() {
	proxywasm.SetHttpContext(func(contextID uint32) types.HttpContext { return &addHeader{id: contextID} })
}

type addHeader struct {
	types.DefaultHttpContext
	id uint32
}

func (a *addHeader) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	if err := proxywasm.AddHttpResponseHeader("x-wasm-workshop", "hello"); err != nil {
		proxywasm.LogErrorf("add header: %v", err)
	}
	proxywasm.LogInfof("added header to response %d", a.id)
	return types.ActionContinue
}
