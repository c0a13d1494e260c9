package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func toMap(pairs [][2]string) map[string][]string {
	m := map[string][]string{}
	for _, p := range pairs {
		m[p[0]] = append(m[p[0]], p[1])
	}
	return m
}

func TestFilterAddsHeader(t *testing.T) {
	cases := []struct {
		name        string
		headers     [][2]string
		endOfStream bool
	}{
		{"ok", [][2]string{{":status", "200"}}, false},
		{"not found with body", [][2]string{{":status", "404"}, {"content-type", "application/json"}}, false},
		{"no body", [][2]string{{":status", "204"}}, true},
		{"server error", [][2]string{{":status", "503"}, {"retry-after", "1"}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opt := proxytest.NewEmulatorOption().WithHttpContext(newHeaderFilter)
			host, reset := proxytest.NewHostEmulator(opt)
			defer reset()

			id := host.InitializeHttpContext()
			if got := host.CallOnResponseHeaders(id, tc.headers, tc.endOfStream); got != types.ActionContinue {
				t.Fatalf("action = %v, want continue", got)
			}
			m := toMap(host.GetCurrentResponseHeaders(id))
			if v := m["x-wasm-workshop"]; len(v) != 1 || v[0] != "hello" {
				t.Errorf("x-wasm-workshop = %v, want exactly [hello]", v)
			}
			if m[":status"][0] != tc.headers[0][1] {
				t.Errorf("status changed to %v", m[":status"])
			}
			if n := len(host.GetInfoLogs()); n != 1 {
				t.Errorf("%d info lines, want 1", n)
			}
		})
	}
}
