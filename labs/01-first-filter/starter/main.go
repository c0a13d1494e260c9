// Your first Proxy-Wasm filter. Follow the TODOs in order; `workshop check 01` judges each step.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// TODO(build): this does not build yet: `go build` says "function main is undeclared".
// A Wasm reactor is never started through main, but Go still needs one: add an empty func main.

// init runs when Envoy loads the module: register how to make one filter per request.
func init() {
	proxywasm.SetHttpContext(newHeaderFilter)
}

// headerFilter handles one HTTP request and its response. Keep the names headerFilter and
// newHeaderFilter: your unit test (main_test.go) and the checks use them.
type headerFilter struct {
	types.DefaultHttpContext
	contextID uint32
}

func newHeaderFilter(contextID uint32) types.HttpContext {
	return &headerFilter{contextID: contextID}
}

// OnHttpResponseHeaders is called once per response, before its headers go back to the client.
func (f *headerFilter) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	// TODO(envoy): add the response header "x-wasm-workshop: hello" (proxywasm.AddHttpResponseHeader).
	// TODO(envoy): log one line per request at info level (proxywasm.LogInfof).
	return types.ActionContinue
}
