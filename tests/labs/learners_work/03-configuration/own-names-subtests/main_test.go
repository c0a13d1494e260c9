package main

import (
	"reflect"
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func TestHeaderPlugin(t *testing.T) {
	t.Run("defaults without configuration", func(t *testing.T) {
		host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithPluginContext(newHeaderPlugin))
		defer reset()
		if host.StartPlugin() != types.OnPluginStartStatusOK {
			t.Fatal("did not start")
		}
		id := host.InitializeHttpContext()
		host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
		want := [][2]string{{":status", "200"}, {"x-wasm-workshop", "hello"}}
		if got := host.GetCurrentResponseHeaders(id); !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("configured headers replace the default", func(t *testing.T) {
		opt := proxytest.NewEmulatorOption().WithPluginContext(newHeaderPlugin).
			WithPluginConfiguration([]byte(`{"headers": {"x-team": "green", "x-lab": "03"}}`))
		host, reset := proxytest.NewHostEmulator(opt)
		defer reset()
		if host.StartPlugin() != types.OnPluginStartStatusOK {
			t.Fatal("did not start")
		}
		id := host.InitializeHttpContext()
		host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
		want := [][2]string{{":status", "200"}, {"x-lab", "03"}, {"x-team", "green"}}
		if got := host.GetCurrentResponseHeaders(id); !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("broken configuration is refused", func(t *testing.T) {
		opt := proxytest.NewEmulatorOption().WithPluginContext(newHeaderPlugin).
			WithPluginConfiguration([]byte(`{"headers": `))
		host, reset := proxytest.NewHostEmulator(opt)
		defer reset()
		if got := host.StartPlugin(); got != types.OnPluginStartStatusFailed {
			t.Errorf("StartPlugin() = %v, want failed", got)
		}
		if len(host.GetErrorLogs()) != 1 {
			t.Errorf("want one error log, got %v", host.GetErrorLogs())
		}
	})
}
