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

type pluginContext struct {
	types.DefaultPluginContext
	headers map[string]string
}

func newPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{}
}

// parseHeaders is the whole configuration logic, kept apart so it can be unit-tested.
func parseHeaders(data []byte) (map[string]string, error) {
	if len(data) == 0 {
		return map[string]string{"x-wasm-workshop": "hello"}, nil
	}
	var cfg struct {
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, err
	}
	if len(cfg.Headers) == 0 {
		return nil, errors.New("no headers in the configuration")
	}
	return cfg.Headers, nil
}

func (p *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil && !errors.Is(err, types.ErrorStatusNotFound) {
		proxywasm.LogCriticalf("reading configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	headers, err := parseHeaders(data)
	if err != nil {
		proxywasm.LogCriticalf("invalid configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	p.headers = headers
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
	for name, value := range f.headers {
		if err := proxywasm.AddHttpResponseHeader(name, value); err != nil {
			proxywasm.LogErrorf("could not add %s: %v", name, err)
		}
	}
	proxywasm.LogInfof("request %d answered", f.contextID)
	return types.ActionContinue
}
