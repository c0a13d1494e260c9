// Lab 01, written the way the proxy-wasm-go-sdk examples are laid out:
// a VM context makes plugin contexts, a plugin context makes one HTTP context per request.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() {
	proxywasm.SetVMContext(&vmContext{})
}

// vmContext is the entry point: one per Wasm VM.
type vmContext struct {
	types.DefaultVMContext
}

// NewPluginContext implements types.VMContext.
func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{}
}

// pluginContext is one per filter configuration.
type pluginContext struct {
	types.DefaultPluginContext
}

// NewHttpContext implements types.PluginContext.
func (*pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpHeaders{contextID: contextID}
}

// httpHeaders is one per HTTP stream.
type httpHeaders struct {
	types.DefaultHttpContext
	contextID uint32
}

// OnHttpResponseHeaders implements types.HttpContext.
func (ctx *httpHeaders) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	if err := proxywasm.AddHttpResponseHeader("x-wasm-workshop", "hello"); err != nil {
		proxywasm.LogCriticalf("failed to add response header: %v", err)
	}
	proxywasm.LogInfof("stream %d: response headers done", ctx.contextID)
	return types.ActionContinue
}
