// Lab 01 filter. I read the whole response header map, add ours, and write the map back.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() {
	proxywasm.SetHttpContext(newWorkshopHeader)
}

type workshopHeader struct {
	types.DefaultHttpContext
	ctxID uint32
}

func newWorkshopHeader(ctxID uint32) types.HttpContext {
	return &workshopHeader{ctxID: ctxID}
}

// withHeader returns headers with name set to value, whatever was there before.
func withHeader(headers [][2]string, name, value string) [][2]string {
	out := make([][2]string, 0, len(headers)+1)
	for _, h := range headers {
		if h[0] != name {
			out = append(out, h)
		}
	}
	return append(out, [2]string{name, value})
}

func (w *workshopHeader) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	headers, err := proxywasm.GetHttpResponseHeaders()
	if err != nil {
		proxywasm.LogErrorf("reading response headers: %v", err)
		return types.ActionContinue
	}
	if err := proxywasm.ReplaceHttpResponseHeaders(withHeader(headers, "x-wasm-workshop", "hello")); err != nil {
		proxywasm.LogErrorf("writing response headers: %v", err)
	}
	proxywasm.LogInfof("context %d: x-wasm-workshop set", w.ctxID)
	return types.ActionContinue
}
