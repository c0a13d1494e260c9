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
	if a := host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false); a != types.ActionContinue {
		t.Fatalf("action %v", a)
	}
	headers := host.GetCurrentResponseHeaders(id)
	if len(headers) != 2 || headers[1] != [2]string{"x-wasm-workshop", "hello"} {
		t.Errorf("response headers %v, want :status then x-wasm-workshop: hello", headers)
	}
	host.CompleteHttpContext(id)
	if logs := host.GetInfoLogs(); len(logs) != 1 {
		t.Errorf("%d log lines for one request: %q", len(logs), logs)
	}
}
