package main

import (
	"encoding/json"
	"fmt"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() {
	proxywasm.SetPluginContext(newRootContext)
}

type header struct {
	name, value string
}

var defaultHeaders = []header{{"x-wasm-workshop", "hello"}}

type rootContext struct {
	types.DefaultPluginContext
	add        []header
	helloTotal proxywasm.MetricCounter
}

// sawHello is called by a request's filter when the request says hello.
func (r *rootContext) sawHello(stream uint32, value string) {
	r.helloTotal.Increment(1)
	proxywasm.LogInfof("request %d says hello: %s", stream, value)
}

func newRootContext(uint32) types.PluginContext {
	return &rootContext{}
}

// readHeaders decodes {"headers": {...}} without a struct: I want to say which part is wrong.
func readHeaders(raw []byte) ([]header, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	obj, ok := doc["headers"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf(`"headers" is missing or not an object`)
	}
	if len(obj) == 0 {
		return nil, fmt.Errorf(`"headers" is empty`)
	}
	var out []header
	for name, v := range obj {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("header %q: value is not a string", name)
		}
		out = append(out, header{name, s})
	}
	return out, nil
}

func (r *rootContext) OnPluginStart(int) types.OnPluginStartStatus {
	r.helloTotal = proxywasm.DefineCounterMetric("wasm_workshop_hello_requests")
	raw, err := proxywasm.GetPluginConfiguration()
	switch {
	case err == types.ErrorStatusNotFound || (err == nil && len(raw) == 0):
		r.add = defaultHeaders
		return types.OnPluginStartStatusOK
	case err != nil:
		proxywasm.LogErrorf("GetPluginConfiguration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	add, err := readHeaders(raw)
	if err != nil {
		proxywasm.LogErrorf("bad plugin configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	r.add = add
	return types.OnPluginStartStatusOK
}

func (r *rootContext) NewHttpContext(id uint32) types.HttpContext {
	return &responseFilter{id: id, root: r}
}

type responseFilter struct {
	types.DefaultHttpContext
	id   uint32
	root *rootContext
}

func (f *responseFilter) OnHttpRequestHeaders(int, bool) types.Action {
	value, err := proxywasm.GetHttpRequestHeader("hello")
	if err != nil {
		return types.ActionContinue // no hello header
	}
	f.root.sawHello(f.id, value)
	return types.ActionContinue
}

func (f *responseFilter) OnHttpResponseHeaders(int, bool) types.Action {
	for _, h := range f.root.add {
		if err := proxywasm.ReplaceHttpResponseHeader(h.name, h.value); err != nil {
			proxywasm.LogErrorf("%s: %v", h.name, err)
		}
	}
	proxywasm.LogInfof("response %d: %d header(s)", f.id, len(f.root.add))
	return types.ActionContinue
}
