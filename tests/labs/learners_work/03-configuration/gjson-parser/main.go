// Lab 03 with gjson: I find it easier than json.Unmarshal for a small config.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/tidwall/gjson"
)

func main() {}

func init() {
	proxywasm.SetPluginContext(func(id uint32) types.PluginContext { return &settingsContext{} })
}

type settingsContext struct {
	types.DefaultPluginContext
	names  []string
	values []string
}

func (s *settingsContext) OnPluginStart(size int) types.OnPluginStartStatus {
	if size == 0 {
		s.names, s.values = []string{"x-wasm-workshop"}, []string{"hello"}
		return types.OnPluginStartStatusOK
	}
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil || len(data) == 0 {
		s.names, s.values = []string{"x-wasm-workshop"}, []string{"hello"}
		return types.OnPluginStartStatusOK
	}
	if !gjson.ValidBytes(data) {
		proxywasm.LogCriticalf("configuration is not valid JSON: %s", data)
		return types.OnPluginStartStatusFailed
	}
	headers := gjson.GetBytes(data, "headers")
	if !headers.IsObject() {
		proxywasm.LogCriticalf(`configuration has no "headers" object: %s`, data)
		return types.OnPluginStartStatusFailed
	}
	headers.ForEach(func(k, v gjson.Result) bool {
		s.names = append(s.names, k.String())
		s.values = append(s.values, v.String())
		return true
	})
	if len(s.names) == 0 {
		proxywasm.LogCriticalf(`configuration names no headers: %s`, data)
		return types.OnPluginStartStatusFailed
	}
	return types.OnPluginStartStatusOK
}

func (s *settingsContext) NewHttpContext(id uint32) types.HttpContext {
	return &addHeaders{id: id, settings: s}
}

type addHeaders struct {
	types.DefaultHttpContext
	id       uint32
	settings *settingsContext
}

func (a *addHeaders) OnHttpResponseHeaders(int, bool) types.Action {
	for i, name := range a.settings.names {
		if err := proxywasm.AddHttpResponseHeader(name, a.settings.values[i]); err != nil {
			proxywasm.LogWarnf("header %s: %v", name, err)
		}
	}
	proxywasm.LogInfof("response %d: added %v", a.id, a.settings.names)
	return types.ActionContinue
}
