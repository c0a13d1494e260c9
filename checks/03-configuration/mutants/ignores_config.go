// A filter that ignores its configuration: a good unit test must fail on it.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// Go needs a main function, even though a Wasm reactor never calls it.
func main() {}

// init runs when Envoy loads the module: register how to make the plugin context.
func init() {
	proxywasm.SetPluginContext(newPluginContext)
}

// config is the plugin configuration, as JSON: {"headers": {"x-team": "blue"}}.
type config struct {
	Headers map[string]string `json:"headers"`
}

// pluginContext lives as long as the filter's configuration: it reads the configuration once
// and hands the headers to every request's headerFilter.
type pluginContext struct {
	types.DefaultPluginContext
	headers [][2]string
}

func newPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{}
}

// OnPluginStart ignores the configuration: every filter adds the default header.
func (p *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	p.headers = [][2]string{{"x-wasm-workshop", "hello"}}
	return types.OnPluginStartStatusOK
}

// NewHttpContext is called for every request: make its filter, with the configured headers.
func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &headerFilter{contextID: contextID, headers: p.headers}
}

// headerFilter handles one HTTP request and its response.
type headerFilter struct {
	types.DefaultHttpContext
	contextID uint32
	headers   [][2]string
}

// OnHttpResponseHeaders is called once per response, before its headers go back to the client.
func (f *headerFilter) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	for _, h := range f.headers {
		if err := proxywasm.AddHttpResponseHeader(h[0], h[1]); err != nil {
			proxywasm.LogErrorf("could not add the header %s: %v", h[0], err)
		}
	}
	proxywasm.LogInfof("wasm-workshop: request %d answered", f.contextID)
	return types.ActionContinue
}
