"""Lab 05: the filter, shipped as an image in the registry, in a form Istio's agent loads.

Istio's own fetcher (the agent's code, built by `workshop prepare`) decides whether the agent would
load the image; the check only puts its answer in plain words.
"""

import pytest

from workshop.checking import fail
from workshop.core import wasm as wasmlib
from workshop.env import wasm_images

REPOSITORY = "wasm-workshop/filter:v1"


def ask_istio(services, out=None):
    registry = services.ensure("registry")["registry"]
    url = f"oci://127.0.0.1:{registry.port}/{REPOSITORY}"
    try:
        answer = wasm_images.would_load(url, out=out)
    except wasm_images.FetcherMissing as exc:
        fail(str(exc), hint="`workshop prepare` builds it (about a minute)")
    if not answer.ok:
        message, hint = wasm_images.explain(answer)
        fail(message, expected=f"{url[6:]}, an image Istio's agent loads", seen=f"Istio's fetcher: {answer.error}", hint=hint)
    return answer


@pytest.mark.step("push", timeout=60)
def test_the_image_is_one_istio_accepts(services):
    """Istio's own fetcher would load wasm-workshop/filter:v1 from the registry"""
    ask_istio(services)


@pytest.mark.step("verify", timeout=120)
def test_the_image_holds_your_current_build(go, services, tmp_path):
    """the module Istio's agent would load is byte for byte your current build, and a Proxy-Wasm module"""
    module = go.build_wasm(inspect=False)
    pulled = tmp_path / "pulled.wasm"
    answer = ask_istio(services, out=pulled)
    try:
        inside = wasmlib.inspect(pulled)
    except wasmlib.NotAModule as exc:
        fail(f"the image does not hold a WebAssembly module: {exc}")
    if inside.missing_proxy_exports:
        fail("the module in the image is not a Proxy-Wasm filter", seen="missing: " + ", ".join(inside.missing_proxy_exports))
    if answer.module_sha256 != module.sha256:
        fail("the image holds another build than your current code: it is stale",
             expected=f"sha256 {module.sha256[:16]}… (plugin.wasm built from your code now)",
             seen=f"sha256 {answer.module_sha256[:16]}… in the image", hint="rebuild plugin.wasm and push again")
