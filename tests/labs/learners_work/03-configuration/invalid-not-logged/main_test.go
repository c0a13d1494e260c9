package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func factory(uint32) types.PluginContext { return &headersPlugin{} }

func TestPlugin(t *testing.T) {
	cases := []struct {
		name   string
		config string
		status types.OnPluginStartStatus
		want   map[string]string
	}{
		{"none", "", types.OnPluginStartStatusOK, map[string]string{"x-wasm-workshop": "hello"}},
		{"blue", `{"headers": {"x-team": "blue"}}`, types.OnPluginStartStatusOK, map[string]string{"x-team": "blue"}},
		{"truncated", `{"headers": {"x-team": "blue"`, types.OnPluginStartStatusFailed, nil},
		{"not json", `x-team: blue`, types.OnPluginStartStatusFailed, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opt := proxytest.NewEmulatorOption().WithPluginContext(factory)
			if c.config != "" {
				opt = opt.WithPluginConfiguration([]byte(c.config))
			}
			host, reset := proxytest.NewHostEmulator(opt)
			defer reset()
			if got := host.StartPlugin(); got != c.status {
				t.Fatalf("StartPlugin = %v, want %v", got, c.status)
			}
			if c.want == nil {
				return
			}
			id := host.InitializeHttpContext()
			host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
			got := map[string]string{}
			for _, h := range host.GetCurrentResponseHeaders(id) {
				if h[0] != ":status" {
					got[h[0]] = h[1]
				}
			}
			if len(got) != len(c.want) {
				t.Errorf("headers %v, want %v", got, c.want)
			}
			for k, v := range c.want {
				if got[k] != v {
					t.Errorf("headers %v, want %v", got, c.want)
				}
			}
		})
	}
}
