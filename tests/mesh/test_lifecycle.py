"""The mesh's lifetime, each test in its own folders and on its own free ports: a port in use is named
before anything starts, and a kill -9 of the process that owns a mesh leaves nothing once the next
workshop command reaps (Envoy, the agent's child, included)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.env.conftest import free_ports
from tests.mesh.conftest import MESH, mesh_built, mesh_ports, processes_under, still_running, tree, workshop
from workshop.env.ports import how_to_change

pytestmark = pytest.mark.slow


@pytest.fixture
def free_mesh_ports(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every WORKSHOP_PORT_* free, in this process and what it runs; this test's own folders (tests/conftest.py)."""
    chosen = mesh_ports()
    for key, value in chosen.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("KUBECACHEDIR", str(isolated / "kube-cache"))
    return chosen


@pytest.mark.parametrize(("field", "who"), [("kube_api", "kube-apiserver's https port"), ("istiod_xds", "istiod's xds port"),
                                            ("sidecar_admin", "sidecar's admin port")])
def test_a_port_in_use_is_named_with_how_to_change_it(free_mesh_ports: dict[str, str], isolated: Path, field: str,
                                                      who: str) -> None:
    mesh_built()
    port = int(free_mesh_ports[f"WORKSHOP_PORT_{field.upper()}"])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        proc = workshop("env", "up", "mesh")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    said = proc.stderr.strip()
    assert said.startswith("workshop env up: ") and "Traceback" not in said
    assert f"port {port} on 127.0.0.1, wanted by {who}, is already in use" in said, said
    assert f"`ss -ltnp 'sport = :{port}'`" in said and f"WORKSHOP_PORT_{field.upper()}=N" in said, said
    # checked before anything started: nothing runs, nothing is recorded
    listed = json.loads(workshop("env", "status", "--json").stdout)["services"]
    assert not [s["name"] for s in listed if s["up"]]
    assert processes_under(str(isolated)) == []


def test_the_option_a_port_message_offers_moves_that_port(free_mesh_ports: dict[str, str], isolated: Path) -> None:
    offered = how_to_change("istiod_xds").split("`")[1]
    assert offered == "workshop env up --port istiod-xds=N", offered
    assert "--port NAME=N" in workshop("env", "up", "--help").stdout
    port, other = free_ports(2)  # the same option moves a port for real (httpbin's: quick to start)
    up = workshop("env", "up", "httpbin", "--port", f"httpbin={port}", "--json")
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["services"][0]["ports"] == {"http": port}
    moved = workshop("env", "up", "httpbin", "--port", f"httpbin={other}")  # held against what runs
    assert moved.returncode == 1 and "already up on" in moved.stderr and "env down httpbin" in moved.stderr
    wrong = workshop("env", "up", "--port", "kube=7443")
    assert wrong.returncode == 2 and "kube-api" in wrong.stderr and "Traceback" not in wrong.stderr
    assert workshop("env", "down").returncode == 0


OWNER = textwrap.dedent("""
    import json, sys, time
    from workshop.env import services
    up = services.ensure(["mesh"], timeout=90)     # owned by this process, as a check or the app starts it
    print(json.dumps({name: info.pid for name, info in up.items()}), flush=True)
    time.sleep(600)
""")


def test_a_killed_owners_mesh_is_gone_after_the_next_status(free_mesh_ports: dict[str, str], isolated: Path) -> None:
    mesh_built()
    owner = subprocess.Popen([sys.executable, "-c", OWNER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "WORKSHOP_SERVICES": "owned"})
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline()
        if not line.startswith("{"):
            owner.kill()
            workshop("env", "down")
            pytest.fail(f"the owner did not start the mesh: {line}{owner.communicate(timeout=30)[1]}")
        pids = json.loads(line)
        assert set(MESH) <= set(pids), pids
        processes = [p for name in pids for p in tree(pids[name])]
        assert "envoy" in {p.name() for p in processes}, "the sidecar's Envoy should be among the mesh's processes"
        owner.kill()  # kill -9: it has no chance to stop anything
        owner.wait(timeout=10)
        running = still_running(processes)
        assert len(running) == len(processes), f"a kill -9 stops nothing by itself; still running are only {running}"
    finally:
        if owner.poll() is None:
            owner.kill()
    shown = workshop("env", "status", timeout=120)  # any workshop command reaps what a dead owner left
    assert shown.returncode == 0, shown.stderr
    for name in MESH:
        assert f"{name} down" in " ".join(shown.stdout.split()), shown.stdout
    assert still_running(processes) == [], "these outlived their owner's kill -9 and the reap"
    assert processes_under(str(isolated)) == []
