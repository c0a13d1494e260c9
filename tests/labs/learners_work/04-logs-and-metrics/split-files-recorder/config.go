package main

import (
	"encoding/json"
	"errors"
	"fmt"
)

// config is the plugin configuration: {"headers": {"name": "value", ...}}.
type config struct {
	Headers map[string]string `json:"headers"`
}

var errNoHeaders = errors.New(`the configuration names no headers`)

// decodeHeaders reads a plugin configuration. No configuration at all gives the default header.
func decodeHeaders(data []byte) (map[string]string, error) {
	if len(data) == 0 {
		return map[string]string{"x-wasm-workshop": "hello"}, nil
	}
	var c config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if len(c.Headers) == 0 {
		return nil, errNoHeaders
	}
	return c.Headers, nil
}
