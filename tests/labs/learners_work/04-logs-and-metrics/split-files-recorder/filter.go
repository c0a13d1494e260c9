package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

type headerFilter struct {
	types.DefaultHttpContext
	contextID uint32
	headers   map[string]string
	hello     *helloRecorder
}

func (f *headerFilter) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	if value, err := proxywasm.GetHttpRequestHeader("hello"); err == nil {
		f.hello.record(value)
	}
	return types.ActionContinue
}

func (f *headerFilter) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	for name, value := range f.headers {
		if err := proxywasm.AddHttpResponseHeader(name, value); err != nil {
			proxywasm.LogErrorf("adding %s: %v", name, err)
		}
	}
	proxywasm.LogInfof("request %d answered", f.contextID)
	return types.ActionContinue
}
