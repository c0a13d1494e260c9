package main

import (
	"fmt"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
)

// helloRecorder counts and logs the requests that say hello.
type helloRecorder struct {
	requests proxywasm.MetricCounter
}

func newHelloRecorder() *helloRecorder {
	return &helloRecorder{requests: proxywasm.DefineCounterMetric("wasm_workshop_hello_requests")}
}

// record is called once for each request that carries a hello header.
func (r *helloRecorder) record(value string) {
	r.requests.Increment(1)
	proxywasm.LogInfo(fmt.Sprintf("received hello=%q", value))
}
