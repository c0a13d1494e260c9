package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetVMContext(&workshopVM{}) }

type workshopVM struct{ types.DefaultVMContext }

// OnVMStart logs once, when Envoy starts the VM: handy to see the module was loaded.
func (*workshopVM) OnVMStart(int) types.OnVMStartStatus {
	proxywasm.LogInfo("workshop filter: VM started")
	return types.OnVMStartStatusOK
}

func (*workshopVM) NewPluginContext(uint32) types.PluginContext { return &workshopPlugin{} }

type workshopPlugin struct{ types.DefaultPluginContext }

func (*workshopPlugin) OnPluginStart(int) types.OnPluginStartStatus {
	proxywasm.LogInfo("workshop filter: plugin started")
	return types.OnPluginStartStatusOK
}

func (*workshopPlugin) NewHttpContext(id uint32) types.HttpContext { return &workshopStream{id: id} }

type workshopStream struct {
	types.DefaultHttpContext
	id uint32
}

func (s *workshopStream) OnHttpResponseHeaders(int, bool) types.Action {
	if err := proxywasm.AddHttpResponseHeader("x-wasm-workshop", "hello"); err != nil {
		proxywasm.LogErrorf("workshop filter: %v", err)
	}
	proxywasm.LogInfof("workshop filter: stream %d answered", s.id)
	return types.ActionContinue
}
