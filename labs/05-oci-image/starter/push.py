"""Push plugin.wasm to the workshop's registry as an OCI artifact.

    python push.py            # pushes to 127.0.0.1:5000/wasm-workshop/filter:v1 (or $IMAGE)
"""

import os
import sys

import oras.client

IMAGE = os.environ.get("IMAGE", "127.0.0.1:5000/wasm-workshop/filter:v1")
WASM_LAYER = "application/vnd.module.wasm.content.layer.v1+wasm"  # the raw module
# TODO(push): Istio's agent rejects an artifact with only the module in it. Add a second layer:
# runtime-config.json (it is in your folder) with the media type application/vnd.module.wasm.config.v1+json.

if not os.path.exists("plugin.wasm"):
    sys.exit("plugin.wasm is missing: build it first (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .)")

registry = IMAGE.split("/", 1)[0]
client = oras.client.OrasClient(hostname=registry, insecure=True)
response = client.push(IMAGE, files=[f"plugin.wasm:{WASM_LAYER}"])
print(f"pushed {IMAGE}: HTTP {response.status_code}")
