"""How the mesh labs' checks read a resource (only to find it and explain; Envoy and Istio judge it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workshop.checking import CheckFailed
from workshop.checking import envoy_config as ec
from workshop.checking.mesh import agent_url, headers_in, pinned, read_resources, where

WASM = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
CONFIG = {"name": "add-headers", "configuration": {"value": '{"headers": {"X-Team": "blue"}}'},
          "vm_config": {"runtime": "envoy.wasm.runtime.v8",
                        "code": {"remote": {"http_uri": {"uri": "http://localhost:8077/plugin.wasm", "cluster": "wasm-modules"},
                                            "sha256": "ab" * 32}}}}


@pytest.mark.parametrize("typed_config", [
    {"@type": WASM, "config": CONFIG},
    {"@type": "type.googleapis.com/udpa.type.v1.TypedStruct", "type_url": WASM, "value": {"config": CONFIG}},
    {"@type": "type.googleapis.com/xds.type.v3.TypedStruct", "type_url": WASM, "value": {"config": CONFIG}},
])
def test_one_reader_sees_the_wasm_filter_however_it_is_wrapped(typed_config: dict) -> None:
    wasm = ec.wasm_filter({"name": "anything", "typed_config": typed_config})
    assert wasm is not None
    assert (wasm.sha256, wasm.cluster, wasm.code) == ("ab" * 32, "wasm-modules", "http://localhost:8077/plugin.wasm")
    assert headers_in(wasm.plugin_config or "") == {"x-team": "blue"}
    assert wasm.config is CONFIG  # the document's own dict: a check may change it and write the file again


def test_a_digest_in_the_url_is_a_pin_as_the_agent_reads_it() -> None:
    assert pinned("oci://127.0.0.1:5000/wasm-workshop/filter@sha256:" + "c" * 64) == "c" * 64
    assert pinned("oci://127.0.0.1:5000/wasm-workshop/filter:v1", "d" * 64) == "d" * 64
    assert pinned("oci://127.0.0.1:5000/wasm-workshop/filter:v1") == ""
    assert pinned("https://example.com/plugin.wasm") == ""


def test_no_scheme_is_oci_when_istiod_can_parse_it() -> None:
    assert agent_url("ghcr.io/team/filter:v1") == "oci://ghcr.io/team/filter:v1"
    assert agent_url("127.0.0.1:5000/wasm-workshop/filter:v1") == "127.0.0.1:5000/wasm-workshop/filter:v1"
    assert agent_url("oci://127.0.0.1:5000/x:v1") == "oci://127.0.0.1:5000/x:v1"


def test_every_document_of_a_kind_is_read(tmp_path: Path) -> None:
    path = tmp_path / "envoyfilter.yaml"
    path.write_text("kind: EnvoyFilter\nmetadata: {name: a}\n---\nkind: Secret\n---\n"
                    "kind: EnvoyFilter\nmetadata: {name: b, namespace: istio-system}\n")
    found = read_resources(path, "EnvoyFilter")
    assert [where(r) for r in found] == [("default", "a"), ("istio-system", "b")]
    with pytest.raises(CheckFailed):
        read_resources(path, "WasmPlugin")
