package main

import (
	"strings"
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
)

func emulator(configuration string) (proxytest.HostEmulator, func()) {
	opt := proxytest.NewEmulatorOption().WithPluginContext(newPluginContext)
	if configuration != "" {
		opt = opt.WithPluginConfiguration([]byte(configuration))
	}
	return proxytest.NewHostEmulator(opt)
}

func responseOf(host proxytest.HostEmulator) map[string]string {
	id := host.InitializeHttpContext()
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
	m := map[string]string{}
	for _, h := range host.GetCurrentResponseHeaders(id) {
		m[h[0]] = h[1]
	}
	return m
}

func TestDefaultHeader(t *testing.T) {
	host, reset := emulator("")
	defer reset()
	host.StartPlugin()
	if got := responseOf(host); got["x-wasm-workshop"] != "hello" {
		t.Errorf("got %v", got)
	}
}

func TestConfiguredHeaders(t *testing.T) {
	host, reset := emulator(`{"headers": {"x-team": "blue"}}`)
	defer reset()
	host.StartPlugin()
	got := responseOf(host)
	if got["x-team"] != "blue" {
		t.Errorf("got %v, want x-team: blue", got)
	}
	if _, ok := got["x-wasm-workshop"]; ok {
		t.Errorf("got %v: the default should be gone", got)
	}
}

// A broken configuration must be reported loudly.
func TestBrokenConfigurationIsReported(t *testing.T) {
	host, reset := emulator(`{"headers": {"x-team": "blue"`)
	defer reset()
	host.StartPlugin()
	logs := host.GetCriticalLogs()
	if len(logs) != 1 || !strings.Contains(logs[0], "bad configuration") {
		t.Errorf("critical logs %q, want one about the bad configuration", logs)
	}
}
