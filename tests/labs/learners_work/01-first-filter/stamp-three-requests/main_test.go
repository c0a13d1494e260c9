package main

import (
	"slices"
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
)

func TestEveryResponseIsStamped(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithHttpContext(makeStamp))
	defer reset()

	const requests = 3
	for i := 0; i < requests; i++ {
		id := host.InitializeHttpContext()
		host.CallOnRequestHeaders(id, [][2]string{{":path", "/"}}, true)
		host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
		got := host.GetCurrentResponseHeaders(id)
		if !slices.Contains(got, [2]string{"x-wasm-workshop", "hello"}) {
			t.Errorf("request %d: response headers %v, want x-wasm-workshop: hello among them", i, got)
		}
		host.CompleteHttpContext(id)
	}
	if logs := host.GetInfoLogs(); len(logs) != requests {
		t.Errorf("%d requests gave %d info lines: %q", requests, len(logs), logs)
	}
}
