"""Lab 05: the filter, shipped as an image in the registry, in a form Istio's agent loads."""

import hashlib

import pytest

from workshop.checking import fail
from workshop.core import wasm as wasmlib
from workshop.env import oci

REPOSITORY = "wasm-workshop/filter:v1"


def fetch(services):
    registry = services.ensure("registry")["registry"]
    reference = f"127.0.0.1:{registry.port}/{REPOSITORY}"
    try:
        return oci.fetch(reference)
    except oci.ImageProblem as exc:
        fail(str(exc), expected=f"{reference}, a form Istio's agent accepts", hint=exc.hint)


@pytest.mark.step("push", timeout=60)
def test_the_image_is_one_istio_accepts(services):
    """wasm-workshop/filter:v1 is in the registry, as a Docker/OCI image or a two-layer Wasm artifact"""
    image = fetch(services)
    if not image.wasm.startswith(wasmlib.WASM_MAGIC):
        fail(f"the {image.form}'s plugin.wasm is {wasmlib.describe_non_wasm(image.wasm[:64])}",
             hint="push the plugin.wasm that GOOS=wasip1 GOARCH=wasm go build made")


@pytest.mark.step("verify", timeout=120)
def test_the_image_holds_your_current_build(go, services, tmp_path):
    """the module in the image is byte for byte your current build, and a Proxy-Wasm module"""
    module = go.build_wasm(inspect=False)
    image = fetch(services)
    pulled = tmp_path / "pulled.wasm"
    pulled.write_bytes(image.wasm)
    try:
        inside = wasmlib.inspect(pulled)
    except wasmlib.NotAModule as exc:
        fail(f"the image does not hold a WebAssembly module: {exc}")
    if inside.missing_proxy_exports:
        fail("the module in the image is not a Proxy-Wasm filter", seen="missing: " + ", ".join(inside.missing_proxy_exports))
    if inside.sha256 != module.sha256:
        fail("the image holds another build than your current code: it is stale",
             expected=f"sha256 {module.sha256[:16]}… (plugin.wasm built from your code now)",
             seen=f"sha256 {hashlib.sha256(image.wasm).hexdigest()[:16]}… in the {image.form}",
             hint="rebuild plugin.wasm and push again")
