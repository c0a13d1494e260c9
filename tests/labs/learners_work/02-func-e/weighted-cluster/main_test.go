package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func TestFilterAddsHeader(t *testing.T) {
	// The emulator plays Envoy's part: it creates the filter and calls it like Envoy would.
	opt := proxytest.NewEmulatorOption().WithHttpContext(newHeaderFilter)
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()

	id := host.InitializeHttpContext()
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
	if logs := host.GetInfoLogs(); len(logs) != 1 {
		t.Errorf("want one info log line per request, got %d: %q", len(logs), logs)
	}
}
