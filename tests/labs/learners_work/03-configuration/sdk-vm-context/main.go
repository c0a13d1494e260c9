// Lab 03: response headers from the plugin configuration.
// Structured like the SDK examples: vmContext -> pluginContext -> httpContext.
package main

import (
	"encoding/json"
	"errors"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() {
	proxywasm.SetVMContext(&vmContext{})
}

type vmContext struct {
	types.DefaultVMContext
}

func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{contextID: contextID}
}

type pluginConfig struct {
	ResponseHeaders map[string]string `json:"headers"`
}

type pluginContext struct {
	types.DefaultPluginContext
	contextID uint32
	headers   map[string]string
}

func (ctx *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil && !errors.Is(err, types.ErrorStatusNotFound) {
		proxywasm.LogCriticalf("error reading plugin configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	if len(data) == 0 {
		ctx.headers = map[string]string{"x-wasm-workshop": "hello"}
		return types.OnPluginStartStatusOK
	}
	var cfg pluginConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		proxywasm.LogCriticalf("error parsing plugin configuration %q: %v", string(data), err)
		return types.OnPluginStartStatusFailed
	}
	if len(cfg.ResponseHeaders) == 0 {
		proxywasm.LogCriticalf("plugin configuration %q has no headers", string(data))
		return types.OnPluginStartStatusFailed
	}
	ctx.headers = cfg.ResponseHeaders
	proxywasm.LogInfof("plugin %d configured with %d headers", ctx.contextID, len(ctx.headers))
	return types.OnPluginStartStatusOK
}

func (ctx *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{contextID: contextID, headers: ctx.headers}
}

type httpContext struct {
	types.DefaultHttpContext
	contextID uint32
	headers   map[string]string
}

func (ctx *httpContext) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	for k, v := range ctx.headers {
		if err := proxywasm.AddHttpResponseHeader(k, v); err != nil {
			proxywasm.LogErrorf("failed to add header %s: %v", k, err)
		}
	}
	proxywasm.LogInfof("stream %d: %d headers added", ctx.contextID, len(ctx.headers))
	return types.ActionContinue
}
