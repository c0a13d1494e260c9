// Lab 03 filter: adds the response headers listed in the plugin configuration.
package main

import (
	"encoding/json"
	"errors"

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

type pluginContext struct {
	types.DefaultPluginContext
	headers [][2]string
}

func newPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{}
}

func (p *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if errors.Is(err, types.ErrorStatusNotFound) || len(data) == 0 {
		p.headers = [][2]string{{"x-wasm-workshop", "hello"}}
		return types.OnPluginStartStatusOK
	}
	var c config
	if err = json.Unmarshal(data, &c); err == nil && len(c.Headers) == 0 {
		err = errors.New("no headers")
	}
	if err != nil {
		proxywasm.LogCriticalf("invalid configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	for name, value := range c.Headers {
		p.headers = append(p.headers, [2]string{name, value})
	}
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &headerFilter{contextID: contextID, headers: p.headers}
}

type headerFilter struct {
	types.DefaultHttpContext
	contextID uint32
	headers   [][2]string
}

func (f *headerFilter) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	for _, h := range f.headers {
		if err := proxywasm.AddHttpResponseHeader(h[0], h[1]); err != nil {
			proxywasm.LogErrorf("could not add the header %s: %v", h[0], err)
		}
	}
	proxywasm.LogInfof("request %d answered", f.contextID)
	return types.ActionContinue
}
