package main

import "github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"

func main() {}

func init() {
	proxywasm.SetPluginContext(newPluginContext)
}
