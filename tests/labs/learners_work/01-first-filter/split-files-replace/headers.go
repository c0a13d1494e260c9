package main

// The header every response gets.
const (
	tagName  = "x-wasm-workshop"
	tagValue = "hello"
)
