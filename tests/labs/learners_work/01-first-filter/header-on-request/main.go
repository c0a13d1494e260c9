package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() {
	proxywasm.SetHttpContext(newHeaderFilter)
}

type headerFilter struct {
	types.DefaultHttpContext
	contextID uint32
}

func newHeaderFilter(contextID uint32) types.HttpContext {
	return &headerFilter{contextID: contextID}
}

// The header goes on as soon as the request comes in.
func (f *headerFilter) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	if err := proxywasm.AddHttpRequestHeader("x-wasm-workshop", "hello"); err != nil {
		proxywasm.LogErrorf("could not add the header: %v", err)
	}
	proxywasm.LogInfof("request %d: header added", f.contextID)
	return types.ActionContinue
}
