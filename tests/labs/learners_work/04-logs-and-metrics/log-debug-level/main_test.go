package main

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// startPlugin starts the emulator with a plugin configuration, as Envoy would, and returns the
// emulated host, what OnPluginStart answered, and a function to call when the test is done.
func startPlugin(configuration string) (proxytest.HostEmulator, types.OnPluginStartStatus, func()) {
	opt := proxytest.NewEmulatorOption().WithPluginContext(newPluginContext)
	if configuration != "" {
		opt = opt.WithPluginConfiguration([]byte(configuration))
	}
	host, reset := proxytest.NewHostEmulator(opt)
	return host, host.StartPlugin(), reset
}

// responseHeaders sends one request through the filter and returns the response headers it set.
func responseHeaders(host proxytest.HostEmulator) [][2]string {
	id := host.InitializeHttpContext()
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
	return host.GetCurrentResponseHeaders(id)
}

// hasHeader says whether headers hold the pair name: value.
func hasHeader(headers [][2]string, name, value string) bool {
	for _, h := range headers {
		if h == [2]string{name, value} {
			return true
		}
	}
	return false
}

func TestNoConfigurationKeepsTheDefaultHeader(t *testing.T) {
	host, status, reset := startPlugin("")
	defer reset()
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("OnPluginStart failed without a configuration")
	}
	headers := responseHeaders(host)
	if !hasHeader(headers, "x-wasm-workshop", "hello") {
		t.Errorf("response headers %v lack x-wasm-workshop: hello", headers)
	}
}

func TestHeadersFollowTheConfiguration(t *testing.T) {
	host, status, reset := startPlugin(`{"headers": {"x-team": "blue", "x-lab": "03"}}`)
	defer reset()
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("OnPluginStart failed on a valid configuration")
	}
	headers := responseHeaders(host)
	if !hasHeader(headers, "x-team", "blue") || !hasHeader(headers, "x-lab", "03") {
		t.Errorf("response headers %v lack x-team: blue and x-lab: 03", headers)
	}
	if hasHeader(headers, "x-wasm-workshop", "hello") {
		t.Errorf("response headers %v hold the default header although a configuration was given", headers)
	}
}

func TestInvalidConfigurationFailsTheStart(t *testing.T) {
	for _, bad := range []string{`{"headers": {"x-team": "blue"`, `not json`, `{"headers": {}}`} {
		_, status, reset := startPlugin(bad)
		reset()
		if status != types.OnPluginStartStatusFailed {
			t.Errorf("OnPluginStart accepted the configuration %s; it should fail", bad)
		}
	}
}
