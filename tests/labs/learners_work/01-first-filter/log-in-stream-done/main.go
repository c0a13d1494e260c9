// Lab 01: the header goes on the response; the log line is written when the stream is done,
// so there is exactly one per request whatever happened to it.
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
	tagged    bool
}

func newHeaderFilter(contextID uint32) types.HttpContext {
	return &headerFilter{contextID: contextID}
}

func (f *headerFilter) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	f.tagged = proxywasm.AddHttpResponseHeader("x-wasm-workshop", "hello") == nil
	return types.ActionContinue
}

func (f *headerFilter) OnHttpStreamDone() {
	proxywasm.LogInfof("request %d done (header added: %v)", f.contextID, f.tagged)
}
