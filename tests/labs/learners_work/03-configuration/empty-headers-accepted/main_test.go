package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func newHost(t *testing.T, configuration []byte) proxytest.HostEmulator {
	opt := proxytest.NewEmulatorOption().WithPluginContext(newConfigurable)
	if configuration != nil {
		opt = opt.WithPluginConfiguration(configuration)
	}
	host, reset := proxytest.NewHostEmulator(opt)
	t.Cleanup(reset)
	return host
}

func respond(host proxytest.HostEmulator) [][2]string {
	id := host.InitializeHttpContext()
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
	return host.GetCurrentResponseHeaders(id)
}

func TestDefault(t *testing.T) {
	host := newHost(t, nil)
	if host.StartPlugin() != types.OnPluginStartStatusOK {
		t.Fatal("start failed")
	}
	got := respond(host)
	if len(got) != 2 || got[1] != [2]string{"x-wasm-workshop", "hello"} {
		t.Errorf("got %v", got)
	}
}

func TestConfigured(t *testing.T) {
	host := newHost(t, []byte(`{"headers": {"x-team": "blue"}}`))
	if host.StartPlugin() != types.OnPluginStartStatusOK {
		t.Fatal("start failed")
	}
	got := respond(host)
	if len(got) != 2 || got[1] != [2]string{"x-team", "blue"} {
		t.Errorf("got %v, want :status and x-team: blue", got)
	}
}

func TestBrokenJSON(t *testing.T) {
	host := newHost(t, []byte(`{"headers": {"x-team": "blue"`))
	if host.StartPlugin() != types.OnPluginStartStatusFailed {
		t.Error("broken JSON accepted")
	}
}
