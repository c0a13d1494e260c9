#!/usr/bin/env bash
# What `workshop check 01` wraps, done by hand as a shell script would: build, unit test, Envoy up, one request.
# Usage: raw_lab01.sh LAB_FOLDER ENVOY_BINARY [same-work SDK_WITHOUT_HEADERS SDK_SETTING_THE_HEADER]
#   same-work adds what lab 01's checks also run: a wasmtime compile of the module (same settings),
#   `go test`, and `go test` against two copies of the Proxy-Wasm Go SDK (made beforehand, once, as the
#   workshop caches them): one where no response header can be set (the test must fail), one that sets
#   exactly the header the lab asks for (the test must pass).
# $PYTHON is the interpreter with wasmtime (the benchmark passes the one it runs under: a virtualenv's).
# Each finished phase prints `phase: NAME`, so the benchmark can say where the time goes.
set -euo pipefail
cd "$1"
envoy_bin=$2
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
echo "phase: go build"
if [ "${3:-}" = same-work ]; then
  "${PYTHON:-python3}" -c 'import sys, wasmtime
c = wasmtime.Config(); c.cranelift_opt_level = "none"; c.cranelift_flag_set("regalloc_algorithm", "single_pass")
m = wasmtime.Module(wasmtime.Engine(c), open("plugin.wasm", "rb").read()); [e.name for e in m.exports]'
  echo "phase: wasmtime inspects the module"
  go test ./... >/dev/null
  echo "phase: go test"
  mutant=$(mktemp -d)
  against() {  # go test of this module built against another copy of the SDK
    cp go.mod "$mutant/go.mod"; [ -f go.sum ] && cp go.sum "$mutant/go.sum"
    go mod edit -replace="github.com/proxy-wasm/proxy-wasm-go-sdk=$1" "$mutant/go.mod"
    go test -mod=mod -modfile="$mutant/go.mod" ./... >/dev/null 2>&1
  }
  if against "$4"; then echo "the unit test missed the filter that adds no header" >&2; exit 1; fi
  if ! against "$5"; then echo "the unit test refused a filter that does what the lab asks" >&2; exit 1; fi
  rm -rf "$mutant"
  echo "phase: go test against two rewritten SDKs"
fi
work=$(mktemp -d)
cat > "$work/envoy.yaml" <<YAML
node: {id: bench, cluster: bench}
admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
static_resources:
  listeners:
  - address: {socket_address: {address: 127.0.0.1, port_value: 18123}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          route_config:
            virtual_hosts:
            - {name: all, domains: ["*"], routes: [{match: {prefix: "/"}, direct_response: {status: 200}}]}
          http_filters:
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                vm_config: {runtime: envoy.wasm.runtime.v8, code: {local: {filename: $PWD/plugin.wasm}}}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
YAML
"$envoy_bin" -c "$work/envoy.yaml" --concurrency 1 --disable-hot-restart --admin-address-path "$work/admin" \
  --log-path "$work/envoy.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 1000); do
  if [ -s "$work/admin" ] && curl -sf "http://$(cat "$work/admin")/ready" >/dev/null 2>&1; then break; fi
  sleep 0.01
done
echo "phase: Envoy up"
curl -sf -D - -o /dev/null http://127.0.0.1:18123/ | grep -qi '^x-wasm-workshop: hello'
echo "verdict: passed"   # the benchmark times this line (edit saved -> verdict shown) and the exit
