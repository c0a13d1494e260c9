package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// run starts the plugin with cfg (nil: no configuration) and, when it started, sends one response through it.
func run(t *testing.T, cfg []byte) (types.OnPluginStartStatus, map[string]string) {
	t.Helper()
	opt := proxytest.NewEmulatorOption().WithPluginContext(newRootContext)
	if cfg != nil {
		opt.WithPluginConfiguration(cfg)
	}
	host, reset := proxytest.NewHostEmulator(opt)
	t.Cleanup(reset)
	status := host.StartPlugin()
	if status != types.OnPluginStartStatusOK {
		return status, nil
	}
	id := host.InitializeHttpContext()
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-length", "0"}}, true)
	got := map[string]string{}
	for _, kv := range host.GetCurrentResponseHeaders(id) {
		got[kv[0]] = kv[1]
	}
	return status, got
}

func TestDefaultHeader(t *testing.T) {
	status, got := run(t, nil)
	if status != types.OnPluginStartStatusOK || got["x-wasm-workshop"] != "hello" {
		t.Fatalf("status %v, headers %v; want OK and x-wasm-workshop: hello", status, got)
	}
}

func TestConfiguredHeadersOnly(t *testing.T) {
	status, got := run(t, []byte(`{"headers":{"x-team":"blue","x-wasm-workshop":"configured"}}`))
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("status %v on a good configuration", status)
	}
	if got["x-team"] != "blue" || got["x-wasm-workshop"] != "configured" {
		t.Errorf("headers %v, want x-team: blue and x-wasm-workshop: configured", got)
	}
}

func TestBadConfigurations(t *testing.T) {
	for _, bad := range []string{`{"headers": {"x-team": "blue"`, `[]`, `{"headers": "x-team"}`, `{"headers": {"x-n": 1}}`, `{"headers": {}}`} {
		t.Run(bad, func(t *testing.T) {
			if status, _ := run(t, []byte(bad)); status != types.OnPluginStartStatusFailed {
				t.Errorf("status %v, want Failed", status)
			}
		})
	}
}

func TestHelloIsCounted(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithPluginContext(newRootContext))
	defer reset()
	host.StartPlugin()
	for _, h := range [][][2]string{{{"hello", "a"}}, {}, {{"hello", "b"}}} {
		id := host.InitializeHttpContext()
		host.CallOnRequestHeaders(id, h, true)
	}
	if n, err := host.GetCounterMetric("wasm_workshop_hello_requests"); err != nil || n != 2 {
		t.Errorf("counter %d (%v), want 2", n, err)
	}
	if logs := host.GetInfoLogs(); len(logs) != 2 {
		t.Errorf("logs %q, want two hello lines", logs)
	}
}
