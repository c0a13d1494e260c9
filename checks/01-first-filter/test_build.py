"""Step build: the module builds to a Proxy-Wasm module for Envoy."""

import pytest

from workshop.checking import fail

SDK = "github.com/proxy-wasm/proxy-wasm-go-sdk"


@pytest.mark.step("build", timeout=180)
def test_builds_a_proxy_wasm_module(workspace, go):
    """plugin.wasm builds and exports the Proxy-Wasm ABI"""
    gomod = (workspace / "go.mod").read_text() if (workspace / "go.mod").exists() else ""
    if SDK not in gomod:
        fail("go.mod does not require the Proxy-Wasm Go SDK", expected=f"a require line for {SDK}",
             hint=f"run `go get {SDK}` in your lab folder")
    module = go.build_wasm()
    if not module.is_reactor:
        fail("plugin.wasm is a WASI command, not a reactor", expected="exports _initialize and no _start",
             hint="build with -buildmode=c-shared so Envoy can call into the module")
    if module.missing_proxy_exports or not module.abi_versions:
        fail("plugin.wasm does not export the Proxy-Wasm ABI",
             expected="proxy_abi_version_*, proxy_on_context_create, proxy_on_response_headers, ...",
             seen="missing: " + ", ".join(module.missing_proxy_exports or ["proxy_abi_version_*"]),
             hint=f"import {SDK}/proxywasm and register your filter in init()")
