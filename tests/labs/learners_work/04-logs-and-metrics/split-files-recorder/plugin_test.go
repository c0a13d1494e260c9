package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func emulate(t *testing.T, configuration string) (types.OnPluginStartStatus, [][2]string) {
	t.Helper()
	opt := proxytest.NewEmulatorOption().WithPluginContext(newPluginContext)
	if configuration != "" {
		opt = opt.WithPluginConfiguration([]byte(configuration))
	}
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()
	status := host.StartPlugin()
	if status != types.OnPluginStartStatusOK {
		return status, nil
	}
	id := host.InitializeHttpContext()
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
	return status, host.GetCurrentResponseHeaders(id)
}

func contains(headers [][2]string, name, value string) bool {
	for _, h := range headers {
		if h[0] == name && h[1] == value {
			return true
		}
	}
	return false
}

func TestPluginAddsConfiguredHeaders(t *testing.T) {
	status, headers := emulate(t, `{"headers": {"x-team": "green", "x-lab": "03"}}`)
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("start: %v", status)
	}
	if !contains(headers, "x-team", "green") || !contains(headers, "x-lab", "03") {
		t.Errorf("got %v", headers)
	}
	if contains(headers, "x-wasm-workshop", "hello") {
		t.Errorf("default header added although configured: %v", headers)
	}
}

func TestPluginWithoutConfiguration(t *testing.T) {
	status, headers := emulate(t, "")
	if status != types.OnPluginStartStatusOK || !contains(headers, "x-wasm-workshop", "hello") {
		t.Errorf("status %v, headers %v", status, headers)
	}
}

func TestPluginRefusesBrokenConfiguration(t *testing.T) {
	if status, _ := emulate(t, `{"headers": {"x-team": "blue"`); status != types.OnPluginStartStatusFailed {
		t.Errorf("status %v, want failed", status)
	}
}
