package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func startPlugin(configuration string) (proxytest.HostEmulator, types.OnPluginStartStatus, func()) {
	opt := proxytest.NewEmulatorOption().WithPluginContext(newPluginContext)
	if configuration != "" {
		opt = opt.WithPluginConfiguration([]byte(configuration))
	}
	host, reset := proxytest.NewHostEmulator(opt)
	return host, host.StartPlugin(), reset
}

func headersOf(host proxytest.HostEmulator) map[string]string {
	id := host.InitializeHttpContext()
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
	m := map[string]string{}
	for _, h := range host.GetCurrentResponseHeaders(id) {
		m[h[0]] = h[1]
	}
	return m
}

func TestNoConfigurationKeepsTheDefaultHeader(t *testing.T) {
	host, _, reset := startPlugin("")
	defer reset()
	if got := headersOf(host); got["x-wasm-workshop"] != "hello" {
		t.Errorf("headers %v", got)
	}
}

func TestHeadersFollowTheConfiguration(t *testing.T) {
	host, status, reset := startPlugin(`{"headers": {"x-team": "blue"}}`)
	defer reset()
	if status != types.OnPluginStartStatusOK {
		t.Fatal("did not start")
	}
	got := headersOf(host)
	if got["x-team"] != "blue" {
		t.Errorf("headers %v lack x-team: blue", got)
	}
	if _, ok := got["x-wasm-workshop"]; ok {
		t.Errorf("headers %v still have the default", got)
	}
}

func TestInvalidConfigurationFallsBack(t *testing.T) {
	host, _, reset := startPlugin(`not json`)
	defer reset()
	if len(host.GetWarnLogs()) == 0 {
		t.Errorf("no warning about the broken configuration")
	}
	if got := headersOf(host); got["x-wasm-workshop"] != "hello" {
		t.Errorf("headers %v: want the default header as a fallback", got)
	}
}
