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

	// AddHttpResponseHeader logs an error when it fails, so no error logs means the header is there.
	if errs := host.GetErrorLogs(); len(errs) > 0 {
		t.Errorf("adding the header failed: %v", errs)
	}
}
