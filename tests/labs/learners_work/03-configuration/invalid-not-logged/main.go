package main

import (
	"encoding/json"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() {
	proxywasm.SetPluginContext(func(uint32) types.PluginContext { return &headersPlugin{} })
}

// pluginSettings has no json tag: encoding/json matches "headers" to Headers anyway.
type pluginSettings struct {
	Headers map[string]string
}

type headersPlugin struct {
	types.DefaultPluginContext
	headers map[string]string
}

func (h *headersPlugin) OnPluginStart(size int) types.OnPluginStartStatus {
	if size == 0 {
		h.headers = map[string]string{"x-wasm-workshop": "hello"}
		return types.OnPluginStartStatusOK
	}
	raw, err := proxywasm.GetPluginConfiguration()
	if err != nil {
		return types.OnPluginStartStatusFailed
	}
	var s pluginSettings
	if json.Unmarshal(raw, &s) != nil || len(s.Headers) == 0 {
		return types.OnPluginStartStatusFailed
	}
	h.headers = s.Headers
	return types.OnPluginStartStatusOK
}

func (h *headersPlugin) NewHttpContext(id uint32) types.HttpContext {
	return &headersStream{id: id, plugin: h}
}

type headersStream struct {
	types.DefaultHttpContext
	id     uint32
	plugin *headersPlugin
}

func (s *headersStream) OnHttpResponseHeaders(int, bool) types.Action {
	for k, v := range s.plugin.headers {
		_ = proxywasm.AddHttpResponseHeader(k, v)
	}
	proxywasm.LogInfof("stream %d answered", s.id)
	return types.ActionContinue
}
