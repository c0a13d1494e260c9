"""Pin the image your wasmplugin.yaml names: write its digest into spec.sha256.

    python3 pin.py                 # reads spec.url from wasmplugin.yaml, asks the registry, edits the file
    python3 pin.py private.yaml    # another WasmPlugin file

For an oci:// image, Istio's agent compares sha256 with the image's *manifest digest* (what the
registry returns as Docker-Content-Digest), not with the sha256 of plugin.wasm.
"""

import re
import sys
import urllib.request

FILE = sys.argv[1] if len(sys.argv) > 1 else "wasmplugin.yaml"
ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"

text = open(FILE).read()
found = re.search(r"^\s*url:\s*[\"']?oci://([^/\s]+)/([^\s\"':]+):([^\s\"'@]+)", text, re.M)
if not found:
    sys.exit(f"{FILE} has no url like oci://127.0.0.1:5000/wasm-workshop/filter:v1 under spec: write it first")
registry, repository, tag = found.groups()
request = urllib.request.Request(f"http://{registry}/v2/{repository}/manifests/{tag}", method="HEAD",
                                 headers={"Accept": ACCEPT})
try:
    digest = urllib.request.urlopen(request, timeout=10).headers["Docker-Content-Digest"]
except OSError as exc:
    sys.exit(f"could not read {registry}/{repository}:{tag} ({exc}): is it pushed, and is the registry up?")
sha = digest.removeprefix("sha256:")
if re.search(r"^\s*sha256:.*$", text, re.M):
    text = re.sub(r"^(\s*)sha256:.*$", lambda m: f"{m.group(1)}sha256: {sha}", text, count=1, flags=re.M)
else:
    text = re.sub(r"^(\s*)url:(.*)$", lambda m: f"{m.group(0)}\n{m.group(1)}sha256: {sha}", text, count=1, flags=re.M)
open(FILE, "w").write(text)
print(f"{FILE}: sha256 pinned to {registry}/{repository}:{tag}'s digest {digest}")
