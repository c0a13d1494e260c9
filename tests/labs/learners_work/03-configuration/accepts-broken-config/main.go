// Lab 03. A bad configuration should not take the proxy down, so the filter falls back to
// the default header and warns instead.
package main

import (
	"encoding/json"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() {
	proxywasm.SetPluginContext(newPluginContext)
}

type config struct {
	Headers map[string]string `json:"headers"`
}

var fallback = map[string]string{"x-wasm-workshop": "hello"}

type pluginContext struct {
	types.DefaultPluginContext
	headers map[string]string
}

func newPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{headers: fallback}
}

func (p *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil || len(data) == 0 {
		return types.OnPluginStartStatusOK
	}
	var c config
	if err := json.Unmarshal(data, &c); err != nil || len(c.Headers) == 0 {
		proxywasm.LogWarnf("ignoring the plugin configuration %q (%v): using the default header", data, err)
		return types.OnPluginStartStatusOK
	}
	p.headers = c.Headers
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &headerFilter{contextID: contextID, headers: p.headers}
}

type headerFilter struct {
	types.DefaultHttpContext
	contextID uint32
	headers   map[string]string
}

func (f *headerFilter) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	for k, v := range f.headers {
		if err := proxywasm.AddHttpResponseHeader(k, v); err != nil {
			proxywasm.LogErrorf("could not add the header %s: %v", k, err)
		}
	}
	proxywasm.LogInfof("request %d answered", f.contextID)
	return types.ActionContinue
}
