// Lab 03 in the SDK examples' layout. The configuration is read once per VM, in OnVMStart.
package main

import (
	"encoding/json"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() {
	proxywasm.SetVMContext(&vmContext{})
}

type headerConfig struct {
	Headers map[string]string `json:"headers"`
}

type vmContext struct {
	types.DefaultVMContext
	headers map[string]string
}

func (vm *vmContext) OnVMStart(vmConfigurationSize int) types.OnVMStartStatus {
	data, err := proxywasm.GetVMConfiguration()
	if err != nil || len(data) == 0 {
		vm.headers = map[string]string{"x-wasm-workshop": "hello"}
		return types.OnVMStartStatusOK
	}
	var cfg headerConfig
	if err := json.Unmarshal(data, &cfg); err != nil || len(cfg.Headers) == 0 {
		proxywasm.LogCriticalf("invalid configuration %s: %v", data, err)
		return types.OnVMStartStatusFailed
	}
	vm.headers = cfg.Headers
	return types.OnVMStartStatusOK
}

func (vm *vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{vm: vm}
}

type pluginContext struct {
	types.DefaultPluginContext
	vm *vmContext
}

func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{contextID: contextID, headers: p.vm.headers}
}

type httpContext struct {
	types.DefaultHttpContext
	contextID uint32
	headers   map[string]string
}

func (ctx *httpContext) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	for k, v := range ctx.headers {
		if err := proxywasm.AddHttpResponseHeader(k, v); err != nil {
			proxywasm.LogErrorf("failed to add %s: %v", k, err)
		}
	}
	proxywasm.LogInfof("http context %d done", ctx.contextID)
	return types.ActionContinue
}
