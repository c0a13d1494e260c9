"""The mesh's ingress gateway (`workshop env up ingress`): the real istio-agent running a gateway Envoy
(`pilot-agent proxy router`), given its listener by istiod from a Gateway, routing through the workload's
sidecar to httpbin; every socket on 127.0.0.1, on the free ports the shared mesh chose."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import psutil
import pytest

from tests.mesh.conftest import MeshUp, envoy_of, tree, wait_until, workshop
from tests.mesh.test_up import _listening
from workshop.checking.mesh_status import listener_chain
from workshop.env import http
from workshop.env.mesh.gateway import GATEWAY_WORKLOAD, HTTPBIN_HOST

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ingress(mesh: MeshUp) -> Iterator[dict]:
    """`workshop env up ingress` beside the shared mesh, as a learner starts it; `workshop env down ingress` after."""
    env = {**os.environ, **mesh.env}
    env.pop("WORKSHOP_SERVICES", None)
    proc = workshop("env", "up", "ingress", "--json", "--timeout", "90", env=env, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = {s["name"]: s for s in json.loads(proc.stdout)["services"]}["ingress"]
    try:
        yield found
    finally:
        down = workshop("env", "down", "ingress", env=env)
        assert down.returncode == 0, down.stdout + down.stderr
        assert not _alive(found["pid"]), "`workshop env down ingress` left the gateway's agent running"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_the_gateway_runs_on_the_ports_chosen(on_mesh: MeshUp, ingress: dict) -> None:
    assert ingress["backend"] == "process", ingress
    assert ingress["ports"] == {"listener": on_mesh.port("ingress"), "admin": on_mesh.port("ingress_admin"),
                                "status": on_mesh.port("ingress_status"), "health": on_mesh.port("ingress_health"),
                                "metrics": on_mesh.port("ingress_metrics")}
    agents = [p.cmdline() for p in tree(ingress["pid"]) if p.name() == "pilot-agent"]
    assert len(agents) == 1 and agents[0][1:3] == ["proxy", "router"], f"`pilot-agent proxy router` should run: {agents}"
    envoy_of(ingress["pid"])  # exactly one Envoy under it


def test_a_request_goes_through_the_gateway_and_the_sidecar_to_httpbin(on_mesh: MeshUp, ingress: dict) -> None:
    """The Gateway's listener routes by the VirtualService to the ServiceEntry's endpoint, the sidecar."""
    admin = f"http://127.0.0.1:{on_mesh.port('ingress_admin')}"
    sidecar_admin = f"http://127.0.0.1:{on_mesh.port('sidecar_admin')}"
    cluster = f"outbound|8000||{HTTPBIN_HOST}"

    def requests(url: str, prefix: str) -> int:
        """Requests Envoy sent to the hosts of its clusters named ``prefix...`` (/clusters keeps every host's count)."""
        lines = http.request(url + "/clusters", timeout=5).text.splitlines()
        return sum(int(ln.rsplit("::", 1)[1]) for ln in lines if ln.startswith(prefix) and "::rq_total::" in ln)

    inbound_before = requests(sidecar_admin, "inbound|")
    response = http.request(f"http://127.0.0.1:{on_mesh.port('ingress')}/get", headers={"x-probe": "edge"}, timeout=5)
    assert response.status == 200, response.text
    assert response.headers.get("server") == "istio-envoy"
    assert json.loads(response.text)["headers"].get("X-Probe") == ["edge"]  # httpbin's echo
    clusters = http.request(admin + "/clusters", timeout=5).text
    assert f"{cluster}::127.0.0.1:{on_mesh.port('sidecar')}::" in clusters, "the gateway's endpoint should be the sidecar"
    assert requests(admin, cluster) >= 1
    assert wait_until(lambda: requests(sidecar_admin, "inbound|") > inbound_before, timeout=10), \
        "the request should have passed the sidecar's inbound listener too"


def test_istiod_bound_the_gateway_listener_to_loopback(on_mesh: MeshUp, ingress: dict) -> None:
    dump = json.loads(http.request(f"http://127.0.0.1:{on_mesh.port('ingress_admin')}/config_dump?resource=dynamic_listeners",
                                   timeout=5).text)
    addresses = [((c.get("active_state") or {}).get("listener") or {}).get("address", {}).get("socket_address", {})
                 for c in dump.get("configs") or []]
    assert {"address": "127.0.0.1", "port_value": on_mesh.port("ingress")} in addresses, addresses
    assert listener_chain(dump, on_mesh.port("ingress"))[-1] == "envoy.filters.http.router"
    full = json.loads(http.request(f"http://127.0.0.1:{on_mesh.port('ingress_admin')}/config_dump", timeout=5).text)
    node = next(c["bootstrap"]["node"] for c in full["configs"] if "bootstrap" in c)
    assert node["id"].startswith("router~127.0.0.1~istio-ingressgateway.istio-system~"), node["id"]  # TYPE~IP~POD.NS~DOMAIN
    proc = on_mesh.kubectl("get", "gateway", "ingress", "-n", GATEWAY_WORKLOAD["namespace"], "-o", "json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["spec"]["servers"][0]["bind"] == "127.0.0.1"


def test_every_listening_socket_of_the_gateway_is_on_loopback(on_mesh: MeshUp, ingress: dict) -> None:
    sockets = _listening(ingress["pid"])
    elsewhere = [s for s in sockets if s[1] != "127.0.0.1"]
    assert not elsewhere, f"the gateway listens beyond 127.0.0.1: {elsewhere}"
    assert set(ingress["ports"].values()) <= {s[2] for s in sockets}, f"{ingress['ports']} not all among {sockets}"
    envoy = envoy_of(ingress["pid"])
    assert (f"envoy (pid {envoy.pid})", on_mesh.port("ingress")) in {(s[0], s[2]) for s in sockets}
    assert all(p.is_running() for p in tree(ingress["pid"]))


def test_the_agent_counters_are_on_the_status_port(on_mesh: MeshUp, ingress: dict) -> None:
    """The merged Prometheus page of the gateway's agent: its own counters and its Envoy's."""
    page = http.request(f"http://127.0.0.1:{on_mesh.port('ingress_status')}/stats/prometheus", timeout=5).text
    assert "istio_agent_" in page and "envoy_server_uptime" in page
    istiod = http.request(f"http://127.0.0.1:{on_mesh.port('istiod_monitoring')}/metrics", timeout=5).text
    assert "pilot_xds_pushes" in istiod


LUA = """\
apiVersion: extensions.istio.io/v1alpha1
kind: TrafficExtension
metadata: {{name: probe-hops, namespace: {namespace}}}
spec:
{extra}  lua:
    inlineCode: |
      function envoy_on_response(h) h:headers():add("x-probe-hops", "1") end
"""
FILTER = "extensions.istio.io/trafficextension/{}.probe-hops"
# applied after the probe: once both proxies run it, istiod has pushed a state that holds the probe too
MARKER = """\
---
apiVersion: extensions.istio.io/v1alpha1
kind: TrafficExtension
metadata: {name: probe-marker, namespace: istio-system}
spec:
  lua:
    inlineCode: |
      function envoy_on_response(h) end
"""
MARKED = "extensions.istio.io/trafficextension/istio-system.probe-marker"


def _chains(mesh: MeshUp) -> tuple[list[str], list[str]]:
    dump = json.loads(http.request(f"http://127.0.0.1:{mesh.port('ingress_admin')}/config_dump?resource=dynamic_listeners",
                                   timeout=10).text)
    return listener_chain(dump, mesh.port("ingress")), mesh.status()["chain"]


def _ecds(mesh: MeshUp, admin: str) -> list[tuple[str, str]]:
    """The filters a proxy's Envoy got through ECDS: (name, last updated), for a failure's words."""
    answer = http.request(f"http://127.0.0.1:{mesh.port(admin)}/config_dump?resource=ecds_filters", timeout=10)
    configs = json.loads(answer.text).get("configs") or [] if answer.status == 200 else []
    return [((c.get("ecds_filter") or {}).get("name", ""), c.get("last_updated", "")) for c in configs]


@pytest.mark.parametrize(("namespace", "extra", "on_gateway", "on_sidecar"), [
    ("istio-system", "", True, True),  # the root namespace, no selector: every proxy
    ("istio-system", "  match: [{mode: SERVER}]\n", False, True),  # gateway listeners are CLIENT to istiod
    ("istio-system", "  match: [{mode: CLIENT}]\n", True, False),
    ("default", "  selector: {matchLabels: {istio: ingressgateway}}\n", False, False),  # not the gateway's namespace
], ids=["root-namespace", "server", "client", "default-namespace"])
def test_where_a_traffic_extension_lands(on_mesh: MeshUp, ingress: dict, tmp_path, namespace: str, extra: str,
                                         on_gateway: bool, on_sidecar: bool) -> None:
    """What istiod decides (push_context.go, extensions.go): the namespaces it looks in, and match's mode."""
    path = tmp_path / "lua.yaml"
    path.write_text(LUA.format(namespace=namespace, extra=extra) + MARKER)
    name = FILTER.format(namespace)
    applied = on_mesh.kubectl("apply", "-f", str(path))
    assert applied.returncode == 0, applied.stderr
    try:
        assert wait_until(lambda: all(MARKED in c for c in _chains(on_mesh)), timeout=30), _chains(on_mesh)
        gateway_chain, sidecar_chain = _chains(on_mesh)
        assert (name in gateway_chain, name in sidecar_chain) == (on_gateway, on_sidecar), \
            f"expected gateway {on_gateway}, sidecar {on_sidecar}: {gateway_chain} / {sidecar_chain}"
        def hops() -> list[str]:
            return http.request(f"http://127.0.0.1:{on_mesh.port('ingress')}/get", timeout=5).header_values("x-probe-hops")

        # a connection opened before the update (the gateway's pooled one to the sidecar) keeps the old chain
        # until Envoy drains it (drain time 1 s), so the traffic may take a moment to follow what both proxies run
        wait_until(lambda: len(hops()) == on_gateway + on_sidecar, timeout=30)
        direct = http.request(f"http://127.0.0.1:{on_mesh.port('sidecar')}/get", timeout=5).header_values("x-probe-hops")
        through = hops()
        assert len(through) == on_gateway + on_sidecar, (
            f"through the gateway {through}, the sidecar alone {direct}; chains: {_chains(on_mesh)}; "
            f"ECDS filters (gateway, sidecar): {[_ecds(on_mesh, port) for port in ('ingress_admin', 'sidecar_admin')]}")
    finally:
        on_mesh.kubectl("delete", "--ignore-not-found", "-f", str(path))
        wait_until(lambda: not any(name in c or MARKED in c for c in _chains(on_mesh)), timeout=30)
