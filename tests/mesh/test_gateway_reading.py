"""How the gateway's checks read Envoy's listeners and a Prometheus page (no mesh needed)."""

from __future__ import annotations

from workshop.checking.mesh_status import listener_chain, metric

PAGE = """\
# TYPE istio_agent_wasm_remote_fetch_count counter
istio_agent_wasm_remote_fetch_count{result="manifest_failure"} 2
istio_agent_wasm_remote_fetch_count{result="success"} 1
istio_agent_wasm_remote_fetch_count_total{result="success"} 7
pilot_total_xds_rejects{type="ecds"} 3
pilot_total_xds_rejects{type="lds"} 1
"""


def test_metric_sums_the_samples_whose_labels_match() -> None:
    assert metric(PAGE, "istio_agent_wasm_remote_fetch_count") == 3  # not the _total series
    assert metric(PAGE, "istio_agent_wasm_remote_fetch_count", result="manifest_failure") == 2
    assert metric(PAGE, "pilot_total_xds_rejects", type="ecds") == 3
    assert metric(PAGE, "pilot_total_xds_rejects", type="cds") == 0
    assert metric(PAGE, "pilot_xds_pushes") == 0


def _listener(port: int, filters: list[str]) -> dict:
    hcm = {"@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
           "http_filters": [{"name": n} for n in filters]}
    return {"active_state": {"listener": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
                                          "filter_chains": [{"filters": [{"typed_config": hcm}]}]}}}


def test_listener_chain_reads_the_listener_on_the_port() -> None:
    dump = {"configs": [_listener(15006, ["a", "envoy.filters.http.router"]),
                        _listener(18080, ["edge", "envoy.filters.http.router"])]}
    assert listener_chain(dump, 18080) == ["edge", "envoy.filters.http.router"]
    assert listener_chain(dump, 9999) == []
