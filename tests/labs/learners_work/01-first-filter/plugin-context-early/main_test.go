package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func TestStamperAddsHeaderAndLogsOnce(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithPluginContext(newRoot))
	defer reset()
	if host.StartPlugin() != types.OnPluginStartStatusOK {
		t.Fatal("plugin start failed")
	}

	id := host.InitializeHttpContext()
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)

	var found bool
	for _, h := range host.GetCurrentResponseHeaders(id) {
		found = found || (h[0] == "x-wasm-workshop" && h[1] == "hello")
	}
	if !found {
		t.Errorf("no x-wasm-workshop: hello in %v", host.GetCurrentResponseHeaders(id))
	}
	if got := host.GetInfoLogs(); len(got) != 1 {
		t.Errorf("want 1 log line, got %v", got)
	}
}
