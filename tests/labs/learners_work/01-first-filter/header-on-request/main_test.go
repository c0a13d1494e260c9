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
	action := host.CallOnRequestHeaders(id, [][2]string{{":path", "/"}}, false)
	if action != types.ActionContinue {
		t.Fatalf("the filter paused the request (action %v)", action)
	}
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)

	found := false
	for _, h := range host.GetCurrentRequestHeaders(id) {
		if h[0] == "x-wasm-workshop" && h[1] == "hello" {
			found = true
		}
	}
	if !found {
		t.Errorf("headers %v lack x-wasm-workshop: hello", host.GetCurrentRequestHeaders(id))
	}
}
