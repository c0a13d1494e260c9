// Lab 03: configurable response headers.
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

// headersToAdd holds the headers to add, read once from the configuration.
var headersToAdd [][2]string

type pluginContext struct {
	types.DefaultPluginContext
}

func newPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{}
}

func (p *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err == types.ErrorStatusNotFound || len(data) == 0 {
		headersToAdd = [][2]string{{"x-wasm-workshop", "hello"}}
		return types.OnPluginStartStatusOK
	}
	var c config
	if err := json.Unmarshal(data, &c); err != nil {
		proxywasm.LogCriticalf("invalid configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	if len(c.Headers) == 0 {
		proxywasm.LogCriticalf("invalid configuration: no headers")
		return types.OnPluginStartStatusFailed
	}
	headersToAdd = nil
	for name, value := range c.Headers {
		headersToAdd = append(headersToAdd, [2]string{name, value})
	}
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &headerFilter{contextID: contextID}
}

type headerFilter struct {
	types.DefaultHttpContext
	contextID uint32
}

func (f *headerFilter) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	for _, h := range headersToAdd {
		if err := proxywasm.AddHttpResponseHeader(h[0], h[1]); err != nil {
			proxywasm.LogErrorf("could not add the header %s: %v", h[0], err)
		}
	}
	proxywasm.LogInfof("request %d answered", f.contextID)
	return types.ActionContinue
}
