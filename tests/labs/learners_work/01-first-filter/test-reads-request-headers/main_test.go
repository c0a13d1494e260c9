package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
)

func TestFilterAddsHeader(t *testing.T) {
	opt := proxytest.NewEmulatorOption().WithHttpContext(newHeaderFilter)
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()

	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}, {":path", "/"}}, true)
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)

	var value string
	for _, h := range host.GetCurrentRequestHeaders(id) {
		if h[0] == "x-wasm-workshop" {
			value = h[1]
		}
	}
	if value != "hello" {
		t.Errorf("x-wasm-workshop = %q, want hello", value)
	}
}
