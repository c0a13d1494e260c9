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
	err := proxywasm.AddHttpResponseHeader("x-wasm-workshop", "hello")
	if err != nil {
		proxywasm.LogErrorf("AddHttpResponseHeader: %v", err)
		return types.ActionContinue
	}
	proxywasm.LogInfof("context %d: added x-wasm-workshop (%d headers, end of stream %v)", f.contextID, numHeaders, endOfStream)
	return types.ActionContinue
}
