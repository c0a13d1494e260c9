// A Proxy-Wasm HTTP filter that adds x-wasm-workshop: hello to every response.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// init runs when Envoy loads the module: register how to make one filter per request.
// (Envoy never runs a main function, so there is none.)
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
	if err := proxywasm.AddHttpResponseHeader("x-wasm-workshop", "hello"); err != nil {
		proxywasm.LogErrorf("could not add the header: %v", err)
	}
	proxywasm.LogInfof("request %d answered", f.contextID)
	return types.ActionContinue
}
