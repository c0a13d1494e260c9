package main

import (
	"encoding/json"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetPluginContext(newConfigurable) }

type filterConfig struct {
	Headers map[string]string `json:"headers"`
}

type configurable struct {
	types.DefaultPluginContext
	cfg filterConfig
}

func newConfigurable(uint32) types.PluginContext { return &configurable{} }

func (c *configurable) OnPluginStart(int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil || len(data) == 0 {
		c.cfg.Headers = map[string]string{"x-wasm-workshop": "hello"}
		return types.OnPluginStartStatusOK
	}
	if err := json.Unmarshal(data, &c.cfg); err != nil {
		proxywasm.LogCriticalf("cannot parse configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	proxywasm.LogInfof("configured headers: %v", c.cfg.Headers)
	return types.OnPluginStartStatusOK
}

func (c *configurable) NewHttpContext(id uint32) types.HttpContext {
	return &addConfigured{id: id, headers: c.cfg.Headers}
}

type addConfigured struct {
	types.DefaultHttpContext
	id      uint32
	headers map[string]string
}

func (a *addConfigured) OnHttpResponseHeaders(int, bool) types.Action {
	for name, value := range a.headers {
		if err := proxywasm.AddHttpResponseHeader(name, value); err != nil {
			proxywasm.LogErrorf("header %s: %v", name, err)
		}
	}
	proxywasm.LogInfof("request %d answered", a.id)
	return types.ActionContinue
}
