#!/bin/sh
# Pin the image a WasmPlugin names: ask the registry for its digest (the oras CLI) and write it into
# spec.sha256. For an oci:// url, Istio compares sha256 with the image's manifest digest.
#
#   sh pin.sh                  # wasmplugin.yaml
#   sh pin.sh private.yaml     # another file
set -eu
file=${1:-wasmplugin.yaml}
ref=$(sed -n "s|^ *url: *[\"']*oci://\([^\"' #]*\).*|\1|p" "$file" | head -n 1)
[ -n "$ref" ] || { echo "$file has no url like oci://127.0.0.1:5000/wasm-workshop/filter:v1: write it first" >&2; exit 1; }
grep -q '^ *sha256:' "$file" || { echo "$file has no sha256: line under spec: add one (sha256: \"\")" >&2; exit 1; }
digest=$(oras resolve --plain-http "$ref")
sed "s|^\( *\)sha256:.*|\1sha256: ${digest#sha256:}|" "$file" > "$file.pinned" && mv "$file.pinned" "$file"
echo "$file: sha256 pinned to $ref ($digest)"
