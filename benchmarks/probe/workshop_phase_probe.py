"""A pytest plugin for benchmarks/mesh_checks.py (loaded with PYTEST_ADDOPTS="-p workshop_phase_probe"):
where each check of a mesh lab spends its time, in phases, written as one JSON line per check to
$WORKSHOP_PHASES_FILE. It wraps the mesh helpers the checks call; it changes no behaviour.

Phases (outermost call counts; a call inside another is part of it):
  kubectl             apply, delete, dry run (kubectl, the API server, istiod's webhook)
  in force            waiting until the sidecar's Envoy runs what was applied (istiod's push, the agent's fetch, Envoy)
  traffic             requests through the sidecar until they show it
  Istio's fetcher     the image check (Istio's pkg/wasm fetcher)
  services            services.ensure (the mesh, the registry: already up, so a status read)
  mesh reads          config_dump, status, uptime, the agent's counters outside the waits above
  of which sleeping   the pause between two polls inside the waits (the workshop's own waiting)
  of which polls      status reads inside the waits (each: kubectl gets, Envoy's config_dump, the agent's log)
  kubectl processes   how many kubectl processes the check started (a count, not seconds)
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from workshop.checking import fixtures, mesh
from workshop.env.mesh import kube

_state = threading.local()
_totals: dict[str, float] = {}
PHASES = {
    "_kubectl": "kubectl", "delete": "kubectl", "in_force": "in force", "until": "traffic", "get_through": "traffic",
    "image": "Istio's fetcher", "view": "mesh reads", "uptime": "mesh reads", "fetch_errors": "mesh reads",
    "agent_fetches": "mesh reads", "others_in_force": "mesh reads", "get": "mesh reads",
    "_ecds_filter": "mesh reads",  # the one look a wait takes, where this version has it
}
POLLS = ("view", "_ecds_filter")


def _add(phase: str, amount: float) -> None:
    _totals[phase] = _totals.get(phase, 0.0) + amount


def _timed(phase: str, fn, nested: str = ""):  # type: ignore[no-untyped-def]
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        depth = getattr(_state, "depth", 0)
        _state.depth = depth + 1
        began = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            _state.depth = depth
            if depth == 0:
                _add(phase, time.monotonic() - began)
            elif nested:
                _add(nested, time.monotonic() - began)
    return wrapper


def _counted(fn):  # type: ignore[no-untyped-def]
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        _add("kubectl processes", 1)
        return fn(*args, **kwargs)
    return wrapper


class _SleepCounter:
    """Stands in for the time module inside workshop.checking.mesh: sleeps are counted, nothing else changes."""

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        began = time.monotonic()
        time.sleep(seconds)
        _add("of which sleeping", time.monotonic() - began)


def pytest_configure(config: pytest.Config) -> None:
    for name, phase in PHASES.items():
        if hasattr(mesh.Mesh, name):
            setattr(mesh.Mesh, name, _timed(phase, getattr(mesh.Mesh, name), "of which polls" if name in POLLS else ""))
    kube.Kube.run = _counted(kube.Kube.run)
    fixtures.Services.ensure = _timed("services", fixtures.Services.ensure)
    mesh.time = _SleepCounter()  # type: ignore[assignment]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):  # type: ignore[no-untyped-def]
    _totals.clear()
    began = time.monotonic()
    yield
    took = time.monotonic() - began
    target = os.environ.get("WORKSHOP_PHASES_FILE")
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(json.dumps({"check": item.name, "seconds": took, "phases": dict(_totals)}) + "\n")
