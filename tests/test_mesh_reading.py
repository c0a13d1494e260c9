"""How the mesh labs' checks read a resource (only to find it and explain; Envoy and Istio judge it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workshop.checking import CheckFailed
from workshop.checking import envoy_config as ec
from workshop.checking.mesh import agent_url, explain_refused_filter, headers_in, pinned, read_resources, where
from workshop.checking.mesh_status import refused_filters
from workshop.env.mesh_target import Reach

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


# The sidecar's log (the agent passes Envoy's lines on) when a Wasm filter's OnPluginStart failed with its
# pluginConfig: the filter's own words, then Envoy's, which refuses the ECDS update (twice: two layers say so)
REFUSED_LOG = "\n".join("\t".join(fields) for fields in [
    ("2026-12-07T20:57:30.576864Z", "info", "envoy wasm source/extensions/common/wasm/context.cc:1151",
     "wasm log: wasm-workshop: adding 1 response header(s): [[x-team blue]]", "thread=17168"),
    ("2026-12-07T20:57:34.352655Z", "critical", "envoy wasm source/extensions/common/wasm/context.cc:1160",
     "wasm log: wasm-workshop: invalid plugin configuration: json: cannot unmarshal number into Go struct field "
     "config.headers of type string", "thread=17168"),
    ("2026-12-07T20:57:34.352693Z", "error", "envoy wasm source/extensions/common/wasm/wasm.cc:104",
     "Wasm VM failed Failed to configure base Wasm plugin", "thread=17168"),
    ("2026-12-07T20:57:34.359303Z", "warning", "envoy config source/extensions/config_subscription/grpc/delta_subscription_state.cc:282",
     "delta config for type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig rejected: Unable to create "
     "Wasm plugin default.add-headers~istio-translated-wasmplugin", "thread=17160"),
    ("2026-12-07T20:57:34.359313Z", "warning", "envoy config source/extensions/config_subscription/grpc/grpc_subscription_impl.cc:160",
     "gRPC config for type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig rejected: Unable to create "
     "Wasm plugin default.add-headers~istio-translated-wasmplugin", "thread=17160"),
])


def test_a_refused_filter_is_told_in_envoys_words_and_the_filters() -> None:
    held = [{"kind": "WasmPlugin", "namespace": "default", "name": "add-headers", "changed": "2026-12-07T20:57:34Z"}]
    assert refused_filters(REFUSED_LOG, held) == [
        "Unable to create Wasm plugin default.add-headers~istio-translated-wasmplugin (the filter said: wasm-workshop: "
        "invalid plugin configuration: json: cannot unmarshal number into Go struct field config.headers of type string)"]


@pytest.mark.parametrize("held", [
    [{"kind": "WasmPlugin", "namespace": "default", "name": "add-headers", "changed": "2026-12-07T20:58:00Z"}],  # changed since
    [{"kind": "WasmPlugin", "namespace": "default", "name": "other", "changed": "2026-12-07T20:57:00Z"}],  # not held any more
    [],
], ids=["changed-since", "another-resource", "none-held"])
def test_a_refusal_before_the_last_change_or_of_a_resource_gone_is_history(held: list[dict]) -> None:
    assert refused_filters(REFUSED_LOG, held) == []


def test_the_proxys_own_words_stay_in_view_however_much_traffic_follows(tmp_path: Path) -> None:
    """A check waits on traffic at 20 requests a second, and Envoy writes a line for each to the same log."""
    access = '[2026-12-07T20:57:36.901Z] "GET /get HTTP/1.1" 500 - via_upstream - "-" 0 0 0 - "-" "-" "id" "127.0.0.1:15006"'
    log = tmp_path / "sidecar.log"
    log.write_text(REFUSED_LOG + "\n" + "\n".join([access] * 3000) + "\n")
    held = [{"kind": "WasmPlugin", "namespace": "default", "name": "add-headers", "changed": "2026-12-07T20:57:34Z"}]
    seen = Reach(admin="", inbound="", log=str(log)).agent_log(kube=None)  # type: ignore[arg-type]
    assert len(refused_filters(seen, held)) == 1 and "[2026" not in seen


@pytest.mark.parametrize(("refusal", "hint"), [
    ("Unable to create Wasm plugin default.add-headers~istio-translated-wasmplugin (the filter said: invalid "
     "plugin configuration: json: cannot unmarshal number)", "quote a value you mean as a string"),
    ("Unable to create Wasm plugin default.add-headers~istio-translated-wasmplugin", "could not start the module itself"),
], ids=["the-filter-refused-its-configuration", "the-module-did-not-start"])
def test_a_refusal_is_explained_by_who_refused(refusal: str, hint: str) -> None:
    explain_refused_filter([refusal], "not in force", "default", "other")  # another resource's: no verdict
    with pytest.raises(CheckFailed) as failed:
        explain_refused_filter([refusal], "not in force", "default", "add-headers")
    assert hint in failed.value.hint and failed.value.seen == f"Envoy: {refusal}"
