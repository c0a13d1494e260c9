#!/bin/sh
# Serve plugin.wasm over HTTP, the way EnvoyFilter users shipped modules before OCI images: the
# workshop's module server (`workshop env up modules`, http://127.0.0.1:8077/) serves the folder
# $WORKSHOP_MODULES (`eval "$(workshop shellenv)"` sets it). Envoy fetches the module from there and
# refuses it unless its sha256 is the one its configuration names, so this also writes that sha256
# into the sha256: line of envoyfilter.yaml.
#
#   sh serve.sh                  # plugin.wasm -> http://127.0.0.1:8077/plugin.wasm; its sha256 -> envoyfilter.yaml
#   sh serve.sh other.yaml       # the sha256 into another file
set -eu
file=${1:-envoyfilter.yaml}
[ -n "${WORKSHOP_MODULES:-}" ] || { echo 'WORKSHOP_MODULES is not set: run eval "$(workshop shellenv)" first' >&2; exit 1; }
[ -f plugin.wasm ] || { echo "plugin.wasm is missing: build it first (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .)" >&2; exit 1; }
mkdir -p "$WORKSHOP_MODULES"
# copy, then rename: the server never hands out half a module
cp plugin.wasm "$WORKSHOP_MODULES/.plugin.wasm.part" && mv "$WORKSHOP_MODULES/.plugin.wasm.part" "$WORKSHOP_MODULES/plugin.wasm"
sum=$( (sha256sum plugin.wasm 2>/dev/null || shasum -a 256 plugin.wasm) | cut -d ' ' -f 1)
echo "serving http://127.0.0.1:${WORKSHOP_PORT_MODULES:-8077}/plugin.wasm (from $WORKSHOP_MODULES), sha256 $sum"
if [ -f "$file" ] && grep -q '^ *sha256:' "$file"; then
  sed "s|^\( *\)sha256:.*|\1sha256: \"$sum\"|" "$file" > "$file.pinned" && mv "$file.pinned" "$file"
  echo "$file: sha256 set to $sum"
fi
