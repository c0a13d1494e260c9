// A Proxy-Wasm HTTP filter: it adds x-wasm-workshop: hello to every response
// and logs one line per request.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// Go needs a main function, even though a Wasm reactor never calls it.
func main() {}

// init runs when Envoy loads the module: register how to make one filter per request.
func init() {
	proxywasm.SetHttpContext(newHeaderFilter)
}

// headerFilter handles one HTTP request and its response.
type headerFilter struct {
	types.DefaultHttpContext
	contextID uint32
}

func newHeaderFilter(contextID uint32) types.HttpContext {
	return &headerFilter{contextID: contextID}
}

// OnHttpResponseHeaders is called once per response, before its headers go back to the client.
func (f *headerFilter) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	if err := proxywasm.AddHttpResponseHeader("x-wasm-workshop", "hello"); err != nil {
		proxywasm.LogErrorf("could not add the header: %v", err)
	}
	proxywasm.LogInfof("wasm-workshop: request %d answered", f.contextID)
	return types.ActionContinue
}
