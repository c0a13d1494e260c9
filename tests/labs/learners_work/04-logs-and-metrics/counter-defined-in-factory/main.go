package main

import (
	"encoding/json"
	"errors"
	"sort"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// Settings is what the plugin configuration holds.
type Settings struct {
	Add map[string]string `json:"headers"`
}

type kv struct{ Key, Val string }

// helloMetric counts requests that carry a hello header; the name is fixed by the lab.
const helloMetric = "wasm_workshop_hello_requests"

type headerPlugin struct {
	types.DefaultPluginContext
	toAdd  []kv
	hellos proxywasm.MetricCounter
}

// newHeaderPlugin defines the counter once per plugin, as the plugin is made.
func newHeaderPlugin(uint32) types.PluginContext {
	return &headerPlugin{hellos: proxywasm.DefineCounterMetric(helloMetric)}
}

func (hp *headerPlugin) OnPluginStart(int) types.OnPluginStartStatus {
	buf, err := proxywasm.GetPluginConfiguration()
	if errors.Is(err, types.ErrorStatusNotFound) || (err == nil && len(buf) == 0) {
		hp.toAdd = []kv{{"x-wasm-workshop", "hello"}}
		return types.OnPluginStartStatusOK
	}
	var s Settings
	if err == nil {
		err = json.Unmarshal(buf, &s)
	}
	if err == nil && len(s.Add) == 0 {
		err = errors.New("no headers configured")
	}
	if err != nil {
		proxywasm.LogErrorf("header plugin: rejecting configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	for k, v := range s.Add {
		hp.toAdd = append(hp.toAdd, kv{k, v})
	}
	sort.Slice(hp.toAdd, func(i, j int) bool { return hp.toAdd[i].Key < hp.toAdd[j].Key })
	return types.OnPluginStartStatusOK
}

func (hp *headerPlugin) NewHttpContext(id uint32) types.HttpContext {
	return &stream{id: id, toAdd: hp.toAdd, hellos: hp.hellos}
}

type stream struct {
	types.DefaultHttpContext
	id     uint32
	toAdd  []kv
	hellos proxywasm.MetricCounter
}

func (s *stream) OnHttpRequestHeaders(int, bool) types.Action {
	if who, err := proxywasm.GetHttpRequestHeader("hello"); err == nil {
		s.hellos.Increment(1)
		proxywasm.LogInfof("hello request from %s", who)
	}
	return types.ActionContinue
}

func (s *stream) OnHttpResponseHeaders(int, bool) types.Action {
	for _, h := range s.toAdd {
		_ = proxywasm.AddHttpResponseHeader(h.Key, h.Val)
	}
	proxywasm.LogInfof("stream %d: %d header(s) added", s.id, len(s.toAdd))
	return types.ActionContinue
}

func init() { proxywasm.SetPluginContext(newHeaderPlugin) }

func main() {}
