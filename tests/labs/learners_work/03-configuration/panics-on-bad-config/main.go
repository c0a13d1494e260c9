package main

import (
	"encoding/json"
	"fmt"

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

// mustParse turns the configuration into headers; a broken configuration is a programming
// error in the mesh config, so it stops the plugin hard.
func mustParse(data []byte) [][2]string {
	if len(data) == 0 {
		return [][2]string{{"x-wasm-workshop", "hello"}}
	}
	var c config
	if err := json.Unmarshal(data, &c); err != nil {
		panic(fmt.Sprintf("invalid plugin configuration %q: %v", data, err))
	}
	if len(c.Headers) == 0 {
		panic("plugin configuration has no headers")
	}
	var out [][2]string
	for k, v := range c.Headers {
		out = append(out, [2]string{k, v})
	}
	return out
}

func (p *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	data, _ := proxywasm.GetPluginConfiguration()
	p.headers = mustParse(data)
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
