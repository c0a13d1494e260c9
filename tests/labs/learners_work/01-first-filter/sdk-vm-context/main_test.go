package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func TestHttpHeaders_OnHttpResponseHeaders(t *testing.T) {
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{})
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()

	if st := host.StartPlugin(); st != types.OnPluginStartStatusOK {
		t.Fatalf("plugin did not start: %v", st)
	}

	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}, {":path", "/"}}, true)
	action := host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", "text/plain"}}, false)
	if action != types.ActionContinue {
		t.Fatalf("expected ActionContinue, got %v", action)
	}

	resp := host.GetCurrentResponseHeaders(id)
	var got []string
	for _, kv := range resp {
		if kv[0] == "x-wasm-workshop" {
			got = append(got, kv[1])
		}
	}
	if len(got) != 1 || got[0] != "hello" {
		t.Fatalf("x-wasm-workshop values = %q, want [hello] (all headers: %v)", got, resp)
	}

	host.CompleteHttpContext(id)
	if logs := host.GetInfoLogs(); len(logs) != 1 {
		t.Errorf("expected exactly 1 info log for one request, got %d: %v", len(logs), logs)
	}
}
