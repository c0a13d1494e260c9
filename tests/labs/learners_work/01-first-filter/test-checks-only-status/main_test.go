package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func TestAddHeader(t *testing.T) {
	opt := proxytest.NewEmulatorOption().WithHttpContext(func(id uint32) types.HttpContext { return &addHeader{id: id} })
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()

	id := host.InitializeHttpContext()
	action := host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
	if action != types.ActionContinue {
		t.Fatalf("the filter paused the response (action %v); it should let it continue", action)
	}
	// the response still has headers after the filter ran
	if len(host.GetCurrentResponseHeaders(id)) == 0 {
		t.Errorf("no response headers")
	}
}
