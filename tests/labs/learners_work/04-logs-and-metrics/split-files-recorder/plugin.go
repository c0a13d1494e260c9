package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

type pluginContext struct {
	types.DefaultPluginContext
	headers map[string]string
	hello   *helloRecorder
}

func newPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{}
}

func (p *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil && err != types.ErrorStatusNotFound {
		proxywasm.LogCriticalf("reading the configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	headers, err := decodeHeaders(data)
	if err != nil {
		proxywasm.LogCriticalf("refusing the configuration %q: %v", data, err)
		return types.OnPluginStartStatusFailed
	}
	p.headers = headers
	p.hello = newHelloRecorder()
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &headerFilter{contextID: contextID, headers: p.headers, hello: p.hello}
}
