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
	host.CallOnRequestHeaders(id, [][2]string{{":path", "/"}, {":method", "GET"}}, true)
	action := host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
	if action != types.ActionContinue {
		t.Fatalf("the filter paused the response (action %v); it should let it continue", action)
	}

	found := false
	for _, h := range host.GetCurrentResponseHeaders(id) {
		if h[0] == "x-wasm-workshop" && h[1] == "hello" {
			found = true
		}
	}
	if !found {
		t.Errorf("response headers %v lack x-wasm-workshop: hello", host.GetCurrentResponseHeaders(id))
	}
}
