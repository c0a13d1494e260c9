"""`workshop env up mesh`: Istio's components run as local processes, ready, and listen on 127.0.0.1 only."""

from __future__ import annotations

import json
import socket

import psutil
import pytest

from tests.mesh.conftest import MESH, MeshUp, envoy_of, tree, workshop
from workshop.env import http

pytestmark = pytest.mark.slow


def test_env_status_shows_the_mesh_running_until_env_down(on_mesh: MeshUp) -> None:
    proc = workshop("env", "status", "--json")
    assert proc.returncode == 0, proc.stderr
    listed = {s["name"]: s for s in json.loads(proc.stdout)["services"]}
    for name in MESH:
        service = listed[name]
        assert service["up"] and service["backend"] == "process", service
        assert service["owner"] is None, f"{name} should run until `workshop env down`, not with its starter"
        assert psutil.Process(service["pid"]).is_running()
        assert service["ports"] == on_mesh.services[name]["ports"], "status should show the ports `env up` chose"
    assert listed["sidecar"]["ports"]["listener"] == on_mesh.port("sidecar")
    text = workshop("env", "status").stdout
    for name in MESH:
        assert any(line.split()[:2] == [name, "process"] and "until `workshop env down`" in line for line in text.splitlines()), text


def test_traffic_goes_through_the_sidecar_to_httpbin(on_mesh: MeshUp) -> None:
    """The inbound listener istiod gave the sidecar (the Sidecar resource: 127.0.0.1, no iptables) reaches httpbin."""
    response = http.request(on_mesh.inbound + "/get", headers={"x-probe": "through-the-sidecar"}, timeout=5)
    assert response.status == 200
    assert response.headers.get("server") == "istio-envoy", "the answer should come through Istio's Envoy"
    echoed = json.loads(response.text)["headers"]
    assert echoed.get("X-Probe") == ["through-the-sidecar"], echoed  # httpbin's echo of what Envoy forwarded


def _listening(pid: int) -> list[tuple[str, str, int]]:
    """Every listening socket of a process and the processes it started: (who, address, port); UDP ones too."""
    found = []
    for p in tree(pid):
        for c in p.net_connections(kind="inet"):  # psutil: /proc/PID/fd inodes matched in /proc/net/{tcp,tcp6,udp,udp6}
            if c.status == psutil.CONN_LISTEN or (c.type == socket.SOCK_DGRAM and not c.raddr):
                found.append((f"{p.name()} (pid {p.pid})", c.laddr.ip, c.laddr.port))
    return found


def test_every_listening_socket_of_the_mesh_is_on_loopback(on_mesh: MeshUp) -> None:
    listed = {s["name"]: s for s in json.loads(workshop("env", "status", "--json").stdout)["services"]}
    envoy = envoy_of(listed["sidecar"]["pid"])  # the agent's child: its sockets count too
    for name in (*MESH, "httpbin", "registry", "private-registry"):
        sockets = _listening(listed[name]["pid"])
        elsewhere = [s for s in sockets if s[1] != "127.0.0.1"]
        assert not elsewhere, f"{name} listens beyond 127.0.0.1: {elsewhere}"
        ports = {s[2] for s in sockets}
        assert set(listed[name]["ports"].values()) <= ports, f"{name}'s ports {listed[name]['ports']} are not all among {sockets}"
    inbound = {(s[0], s[2]) for s in _listening(listed["sidecar"]["pid"])}
    assert (f"envoy (pid {envoy.pid})", on_mesh.port("sidecar")) in inbound, "Envoy, under the agent, owns the inbound listener"
