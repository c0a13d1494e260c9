package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func TestConfiguredHeaders(t *testing.T) {
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).
		WithVMConfiguration([]byte(`{"headers": {"x-team": "blue"}}`))
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()
	if host.StartVM() != types.OnVMStartStatusOK {
		t.Fatal("VM did not start")
	}
	host.StartPlugin()
	id := host.InitializeHttpContext()
	host.CallOnResponseHeaders(id, nil, false)
	got := host.GetCurrentResponseHeaders(id)
	if len(got) != 1 || got[0] != [2]string{"x-team", "blue"} {
		t.Errorf("headers = %v, want only x-team: blue", got)
	}
}

func TestDefaultHeader(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(&vmContext{}))
	defer reset()
	host.StartVM()
	host.StartPlugin()
	id := host.InitializeHttpContext()
	host.CallOnResponseHeaders(id, nil, false)
	got := host.GetCurrentResponseHeaders(id)
	if len(got) != 1 || got[0] != [2]string{"x-wasm-workshop", "hello"} {
		t.Errorf("headers = %v, want only x-wasm-workshop: hello", got)
	}
}

func TestBrokenConfiguration(t *testing.T) {
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).
		WithVMConfiguration([]byte(`{"headers": {"x-team": "blue"`))
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()
	if host.StartVM() != types.OnVMStartStatusFailed {
		t.Error("a broken configuration was accepted")
	}
}
