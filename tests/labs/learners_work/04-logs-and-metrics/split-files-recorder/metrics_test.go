package main

import (
	"strings"
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
)

func TestHelloRequestsCounted(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithPluginContext(newPluginContext))
	defer reset()
	host.StartPlugin()
	for _, hello := range []string{"ann", "", "bo", "cy"} {
		id := host.InitializeHttpContext()
		req := [][2]string{{":path", "/"}}
		if hello != "" {
			req = append(req, [2]string{"hello", hello})
		}
		host.CallOnRequestHeaders(id, req, true)
		host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
	}
	if n, _ := host.GetCounterMetric("wasm_workshop_hello_requests"); n != 3 {
		t.Errorf("counter = %d, want 3", n)
	}
	logs := strings.Join(host.GetInfoLogs(), "\n")
	for _, v := range []string{`"ann"`, `"bo"`, `"cy"`} {
		if strings.Count(logs, v) != 1 {
			t.Errorf("want one line naming %s in\n%s", v, logs)
		}
	}
}
