package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func TestStreamGetsHeader(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(&workshopVM{}))
	defer reset()
	if host.StartVM() != types.OnVMStartStatusOK || host.StartPlugin() != types.OnPluginStartStatusOK {
		t.Fatal("start failed")
	}
	before := len(host.GetInfoLogs())

	id := host.InitializeHttpContext()
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)

	ok := false
	for _, h := range host.GetCurrentResponseHeaders(id) {
		ok = ok || (h[0] == "x-wasm-workshop" && h[1] == "hello")
	}
	if !ok {
		t.Errorf("missing x-wasm-workshop: hello in %v", host.GetCurrentResponseHeaders(id))
	}
	if n := len(host.GetInfoLogs()) - before; n != 1 {
		t.Errorf("one request logged %d lines, want 1", n)
	}
}
