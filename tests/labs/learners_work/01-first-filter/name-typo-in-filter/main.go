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

func (f *headerFilter) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	if err := proxywasm.AddHttpResponseHeader("x-wasm-worksohp", "hello"); err != nil {
		proxywasm.LogErrorf("could not add the header: %v", err)
	}
	proxywasm.LogInfof("wasm-workshop: request %d answered", f.contextID)
	return types.ActionContinue
}
