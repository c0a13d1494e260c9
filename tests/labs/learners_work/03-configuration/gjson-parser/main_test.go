package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

var factory = func(id uint32) types.PluginContext { return &settingsContext{} }

func TestConfigured(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().
		WithPluginContext(factory).
		WithPluginConfiguration([]byte(`{"headers": {"x-team": "blue", "x-wasm-workshop": "configured"}}`)))
	defer reset()
	if got := host.StartPlugin(); got != types.OnPluginStartStatusOK {
		t.Fatalf("StartPlugin = %v", got)
	}
	id := host.InitializeHttpContext()
	host.CallOnResponseHeaders(id, nil, false)
	want := map[[2]string]bool{{"x-team", "blue"}: true, {"x-wasm-workshop", "configured"}: true}
	got := host.GetCurrentResponseHeaders(id)
	if len(got) != len(want) {
		t.Fatalf("headers = %v, want exactly %v", got, want)
	}
	for _, h := range got {
		if !want[h] {
			t.Errorf("unexpected header %v", h)
		}
	}
}

func TestUnconfigured(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithPluginContext(factory))
	defer reset()
	if got := host.StartPlugin(); got != types.OnPluginStartStatusOK {
		t.Fatalf("StartPlugin = %v", got)
	}
	id := host.InitializeHttpContext()
	host.CallOnResponseHeaders(id, nil, false)
	if got := host.GetCurrentResponseHeaders(id); len(got) != 1 || got[0] != [2]string{"x-wasm-workshop", "hello"} {
		t.Errorf("headers = %v", got)
	}
}

func TestBrokenJSON(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().
		WithPluginContext(factory).
		WithPluginConfiguration([]byte(`{"headers": {"x-team": "blue"`)))
	defer reset()
	if got := host.StartPlugin(); got != types.OnPluginStartStatusFailed {
		t.Errorf("StartPlugin = %v, want failed", got)
	}
}
