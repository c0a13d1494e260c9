package main

import (
	"strings"
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func TestResponseHeaders(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   map[string]string
		absent []string
	}{
		{name: "no configuration", config: "", want: map[string]string{"x-wasm-workshop": "hello"}},
		{name: "one header", config: `{"headers": {"x-team": "blue"}}`,
			want: map[string]string{"x-team": "blue"}, absent: []string{"x-wasm-workshop"}},
		{name: "two headers", config: `{"headers": {"x-team": "green", "x-lab": "03"}}`,
			want: map[string]string{"x-team": "green", "x-lab": "03"}, absent: []string{"x-wasm-workshop"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{})
			if tt.config != "" {
				opt = opt.WithPluginConfiguration([]byte(tt.config))
			}
			host, reset := proxytest.NewHostEmulator(opt)
			defer reset()
			if st := host.StartPlugin(); st != types.OnPluginStartStatusOK {
				t.Fatalf("StartPlugin() = %v, want OK", st)
			}
			id := host.InitializeHttpContext()
			host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
			got := map[string]string{}
			for _, h := range host.GetCurrentResponseHeaders(id) {
				got[h[0]] = h[1]
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("header %s = %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[k]; ok {
					t.Errorf("header %s should not be set (all: %v)", k, got)
				}
			}
		})
	}
}

func TestInvalidConfiguration(t *testing.T) {
	for _, cfg := range []string{`{"headers": {"x-team": "blue"`, `headers: x-team=blue`, `{"headers": {}}`, `{}`} {
		t.Run(cfg, func(t *testing.T) {
			opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).WithPluginConfiguration([]byte(cfg))
			host, reset := proxytest.NewHostEmulator(opt)
			defer reset()
			if st := host.StartPlugin(); st != types.OnPluginStartStatusFailed {
				t.Errorf("StartPlugin() = %v, want Failed", st)
			}
			if len(host.GetCriticalLogs()) == 0 {
				t.Errorf("no critical log explains the failure")
			}
		})
	}
}

func TestHelloCounter(t *testing.T) {
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{})
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()
	if st := host.StartPlugin(); st != types.OnPluginStartStatusOK {
		t.Fatalf("StartPlugin() = %v", st)
	}
	requests := []struct {
		headers [][2]string
		hello   bool
	}{
		{[][2]string{{":path", "/"}, {"hello", "world"}}, true},
		{[][2]string{{":path", "/"}}, false},
		{[][2]string{{":path", "/x"}, {"hello", "there"}}, true},
	}
	for _, r := range requests {
		id := host.InitializeHttpContext()
		host.CallOnRequestHeaders(id, r.headers, true)
		host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
		host.CompleteHttpContext(id)
	}
	n, err := host.GetCounterMetric("wasm_workshop_hello_requests")
	if err != nil || n != 2 {
		t.Errorf("wasm_workshop_hello_requests = %d, %v; want 2", n, err)
	}
	var lines []string
	for _, l := range host.GetInfoLogs() {
		if strings.Contains(l, "hello header is") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "world") || !strings.HasSuffix(lines[1], "there") {
		t.Errorf("hello lines = %q", lines)
	}
}
