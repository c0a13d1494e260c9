//go:build tools

// The istio-agent, built from Istio's module vendored here, so that `workshop prepare` can bind its
// status server to 127.0.0.1 (Istio listens on every address and has no option for it).
package tools

import _ "istio.io/istio/pilot/cmd/pilot-agent"
