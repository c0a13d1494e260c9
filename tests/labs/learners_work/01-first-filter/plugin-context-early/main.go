// Proxy-Wasm filter for lab 01. I registered a root (plugin) context straight away,
// since that is what the Envoy docs call it, and the per-request stamper hangs off it.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() {
	proxywasm.SetPluginContext(newRoot)
}

type root struct {
	types.DefaultPluginContext
	header, value string
}

func newRoot(uint32) types.PluginContext {
	return &root{header: "x-wasm-workshop", value: "hello"}
}

func (r *root) NewHttpContext(contextID uint32) types.HttpContext {
	return &responseStamper{root: r, stream: contextID}
}

type responseStamper struct {
	types.DefaultHttpContext
	root   *root
	stream uint32
}

func (s *responseStamper) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	if err := proxywasm.AddHttpResponseHeader(s.root.header, s.root.value); err != nil {
		proxywasm.LogErrorf("stream %d: %v", s.stream, err)
	}
	proxywasm.LogInfof("stream %d stamped with %s", s.stream, s.root.header)
	return types.ActionContinue
}
