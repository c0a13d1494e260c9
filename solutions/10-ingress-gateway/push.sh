#!/bin/sh
# Push plugin.wasm to the registry as an OCI artifact that Istio's agent accepts: two layers, the
# module and its runtime configuration, each with its media type. Uses the oras CLI
# (`eval "$(workshop shellenv)"` puts it on your PATH).
#
#   sh push.sh                                                   # to 127.0.0.1:5000/wasm-workshop/filter:v1
#   IMAGE=127.0.0.1:5000/wasm-workshop/filter:v2 sh push.sh      # another tag
#   REGISTRY_USER=... REGISTRY_PASSWORD=... IMAGE=... sh push.sh    # a registry that wants a login
set -eu
IMAGE=${IMAGE:-127.0.0.1:5000/wasm-workshop/filter:v1}
[ -f plugin.wasm ] || { echo "plugin.wasm is missing: build it first (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .)" >&2; exit 1; }
oras push --plain-http ${REGISTRY_USER:+-u "$REGISTRY_USER" -p "$REGISTRY_PASSWORD"} "$IMAGE" \
  plugin.wasm:application/vnd.module.wasm.content.layer.v1+wasm \
  runtime-config.json:application/vnd.module.wasm.config.v1+json
