package main

import "github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"

// logAnswered writes the one line we log per request.
func logAnswered(id uint32) {
	proxywasm.LogInfof("tagger: tagged response of stream %d", id)
}
