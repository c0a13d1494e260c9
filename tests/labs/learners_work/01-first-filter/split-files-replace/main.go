package main

import "github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"

// Envoy never calls main, but the Go toolchain wants one.
func main() {}

func init() {
	proxywasm.SetHttpContext(newTagger)
}
