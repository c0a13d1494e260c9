package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func TestFilterAddsHeader(t *testing.T) {
	opt := proxytest.NewEmulatorOption().WithHttpContext(newHeaderFilter)
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()

	id := host.InitializeHttpContext()
	action := host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
	if action != types.ActionContinue {
		t.Fatalf("the filter paused the response (action %v); it should let it continue", action)
	}

	ok := false
	for _, h := range host.GetCurrentResponseHeaders(id) {
		if h == [2]string{"x-wasm-workshop", "Hello"} {
			ok = true
		}
	}
	if !ok {
		t.Errorf("missing x-wasm-workshop header: %v", host.GetCurrentResponseHeaders(id))
	}
}
