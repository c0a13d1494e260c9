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

type adderConfig struct {
	Headers map[string]string `json:"headers"`
}

type pluginContext struct {
	types.DefaultPluginContext
	pairs [][2]string
}

func newPluginContext(uint32) types.PluginContext { return &pluginContext{} }

func (a *pluginContext) OnPluginStart(int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if errors.Is(err, types.ErrorStatusNotFound) || (err == nil && len(data) == 0) {
		a.pairs = [][2]string{{"x-wasm-workshop", "hello"}}
		return types.OnPluginStartStatusOK
	}
	var cfg adderConfig
	if err == nil {
		err = json.Unmarshal(data, &cfg)
	}
	if err == nil && len(cfg.Headers) == 0 {
		err = errors.New(`"headers" is empty or missing`)
	}
	if err != nil {
		proxywasm.LogCriticalf("headers plugin: bad configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	for k, v := range cfg.Headers {
		a.pairs = append(a.pairs, [2]string{k, v})
	}
	return types.OnPluginStartStatusOK
}

func (a *pluginContext) NewHttpContext(id uint32) types.HttpContext {
	return &headerFilter{id: id, pairs: a.pairs}
}

type headerFilter struct {
	types.DefaultHttpContext
	id    uint32
	pairs [][2]string
}

func (s *headerFilter) OnHttpResponseHeaders(int, bool) types.Action {
	for _, p := range s.pairs {
		if err := proxywasm.AddHttpResponseHeader(p[0], p[1]); err != nil {
			proxywasm.LogErrorf("headers plugin: %s: %v", p[0], err)
		}
	}
	proxywasm.LogInfof("headers plugin: stream %d done", s.id)
	return types.ActionContinue
}
