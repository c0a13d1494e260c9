package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
)

func TestResponseGetsWorkshopHeader(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithHttpContext(newWorkshopHeader))
	defer reset()

	id := host.InitializeHttpContext()
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", "text/html"}}, false)

	got := host.GetCurrentResponseHeaders(id)
	count := 0
	for _, h := range got {
		if h[0] == "x-wasm-workshop" {
			count++
			if h[1] != "hello" {
				t.Errorf("x-wasm-workshop: %q, want hello", h[1])
			}
		}
	}
	if count != 1 {
		t.Errorf("x-wasm-workshop appears %d times in %v, want once", count, got)
	}
	for _, want := range [][2]string{{":status", "200"}, {"content-type", "text/html"}} {
		kept := false
		for _, h := range got {
			kept = kept || h == want
		}
		if !kept {
			t.Errorf("the filter lost %v: %v", want, got)
		}
	}
}
