package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// tagger tags each response with our header.
type tagger struct {
	types.DefaultHttpContext
	id uint32
}

func newTagger(id uint32) types.HttpContext {
	return &tagger{id: id}
}

func (t *tagger) OnHttpResponseHeaders(_ int, _ bool) types.Action {
	// Replace rather than add: the response never ends up with two values.
	if err := proxywasm.ReplaceHttpResponseHeader(tagName, tagValue); err != nil {
		proxywasm.LogWarnf("tagger: cannot set %s: %v", tagName, err)
	}
	logAnswered(t.id)
	return types.ActionContinue
}
