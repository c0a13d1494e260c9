// Lab 04: my lab 03 filter, with a hello counter and a hello log line.
package main

import (
	"encoding/json"
	"fmt"
	"sort"

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
	hellos  proxywasm.MetricCounter
}

func newPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{}
}

// OnPluginStart is called once, with the configuration from Envoy's filter config.
func (p *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil && err != types.ErrorStatusNotFound {
		proxywasm.LogCriticalf("wasm-workshop: cannot read the plugin configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	headers, err := parseConfig(data)
	if err != nil {
		proxywasm.LogCriticalf("wasm-workshop: invalid plugin configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	p.headers = headers
	p.hellos = proxywasm.DefineCounterMetric("wasm_workshop_hello_requests")
	proxywasm.LogInfof("wasm-workshop: adding %d response header(s): %v", len(headers), headers)
	return types.OnPluginStartStatusOK
}

// parseConfig turns the configuration into header pairs, sorted by name.
// No configuration at all means the default header, x-wasm-workshop: hello.
func parseConfig(data []byte) ([][2]string, error) {
	if len(data) == 0 {
		return [][2]string{{"x-wasm-workshop", "hello"}}, nil
	}
	var c config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, err
	}
	if len(c.Headers) == 0 {
		return nil, fmt.Errorf(`no headers: want {"headers": {"name": "value", ...}}`)
	}
	headers := make([][2]string, 0, len(c.Headers))
	for name, value := range c.Headers {
		if name == "" {
			return nil, fmt.Errorf("a header name is empty")
		}
		headers = append(headers, [2]string{name, value})
	}
	sort.Slice(headers, func(i, j int) bool { return headers[i][0] < headers[j][0] })
	return headers, nil
}

// NewHttpContext is called for every request: make its filter, with the configured headers.
func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &headerFilter{contextID: contextID, headers: p.headers, hellos: p.hellos}
}

// headerFilter handles one HTTP request and its response.
type headerFilter struct {
	types.DefaultHttpContext
	contextID uint32
	headers   [][2]string
	hellos    proxywasm.MetricCounter
}

// OnHttpRequestHeaders counts the requests that say hello, and logs who said it.
func (f *headerFilter) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	value, err := proxywasm.GetHttpRequestHeader("hello")
	proxywasm.LogInfof("wasm-workshop: hello from %s", value)
	if err == nil {
		f.hellos.Increment(1)
	}
	return types.ActionContinue
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
