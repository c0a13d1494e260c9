"""Push plugin.wasm to the workshop's registry as an OCI artifact that Istio's agent accepts.

    python push.py            # pushes to 127.0.0.1:5000/wasm-workshop/filter:v1 (or $IMAGE)
"""

import os
import sys

import oras.client

IMAGE = os.environ.get("IMAGE", "127.0.0.1:5000/wasm-workshop/filter:v1")
WASM_LAYER = "application/vnd.module.wasm.content.layer.v1+wasm"  # the raw module
CONFIG_LAYER = "application/vnd.module.wasm.config.v1+json"  # the runtime config beside it

if not os.path.exists("plugin.wasm"):
    sys.exit("plugin.wasm is missing: build it first (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .)")

registry = IMAGE.split("/", 1)[0]
client = oras.client.OrasClient(hostname=registry, insecure=True)
response = client.push(IMAGE, files=[f"plugin.wasm:{WASM_LAYER}", f"runtime-config.json:{CONFIG_LAYER}"])
print(f"pushed {IMAGE}: HTTP {response.status_code}")
