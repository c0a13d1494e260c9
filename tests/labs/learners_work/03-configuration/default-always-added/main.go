// Lab 03: the filter adds the headers named in its configuration.
package main

import (
	"encoding/json"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// Go needs a main function, even though a Wasm reactor never calls it.
func main() {}

// init runs when Envoy loads the module. A plugin context is made once per filter configuration
// (lab 01 registered only the per-request filter, with proxywasm.SetHttpContext).
func init() {
	proxywasm.SetPluginContext(newPluginContext)
}

// config is the plugin configuration, as JSON: {"headers": {"x-team": "blue", "x-lab": "03"}}.
type config struct {
	Headers map[string]string `json:"headers"`
}

// pluginContext reads the configuration once and hands the headers to every request's filter.
// Keep the names pluginContext, newPluginContext and headerFilter: the checks use them.
type pluginContext struct {
	types.DefaultPluginContext
	headers [][2]string // name and value of each response header to add
}

func newPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{}
}

// OnPluginStart is called once, before any request, when Envoy (re)configures the plugin.
func (p *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	p.headers = [][2]string{{"x-wasm-workshop", "hello"}}
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil || len(data) == 0 {
		return types.OnPluginStartStatusOK // no configuration: the default header only
	}
	var c config
	if err := json.Unmarshal(data, &c); err != nil {
		proxywasm.LogCriticalf("invalid configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	if len(c.Headers) == 0 {
		proxywasm.LogCriticalf("the configuration has no headers")
		return types.OnPluginStartStatusFailed
	}
	for name, value := range c.Headers {
		p.headers = append(p.headers, [2]string{name, value})
	}
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
