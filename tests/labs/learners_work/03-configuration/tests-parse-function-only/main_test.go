package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// The emulator only for the default: the configuration logic is tested on parseHeaders directly.
func TestNoConfigurationKeepsTheDefaultHeader(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithPluginContext(newPluginContext))
	defer reset()
	if host.StartPlugin() != types.OnPluginStartStatusOK {
		t.Fatal("OnPluginStart failed without a configuration")
	}
	id := host.InitializeHttpContext()
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
	found := false
	for _, h := range host.GetCurrentResponseHeaders(id) {
		found = found || h == [2]string{"x-wasm-workshop", "hello"}
	}
	if !found {
		t.Errorf("no default header")
	}
}

func TestParseHeaders(t *testing.T) {
	got, err := parseHeaders([]byte(`{"headers": {"x-team": "blue", "x-lab": "03"}}`))
	if err != nil || len(got) != 2 || got["x-team"] != "blue" || got["x-lab"] != "03" {
		t.Errorf("parseHeaders = %v, %v", got, err)
	}
}

func TestParseHeadersRejectsBrokenConfigurations(t *testing.T) {
	for _, bad := range []string{`{"headers": {"x-team": "blue"`, `not json`, `{"headers": {}}`} {
		if _, err := parseHeaders([]byte(bad)); err == nil {
			t.Errorf("parseHeaders(%s) accepted it", bad)
		}
	}
}
