package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
)

func headerValue(headers [][2]string, name string) (string, bool) {
	for _, h := range headers {
		if h[0] == name {
			return h[1], true
		}
	}
	return "", false
}

func TestTaggerSetsHeader(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithHttpContext(newTagger))
	defer reset()

	id := host.InitializeHttpContext()
	host.CallOnResponseHeaders(id, [][2]string{{":status", "204"}}, true)

	v, ok := headerValue(host.GetCurrentResponseHeaders(id), "x-wasm-workshop")
	if !ok {
		t.Fatal("x-wasm-workshop header not set on the response")
	}
	if v != "hello" {
		t.Fatalf("x-wasm-workshop = %q, want %q", v, "hello")
	}
}
