"""A WasmPlugin applied with kubectl, as a learner does it, reaches the sidecar: istiod translates it, the
istio-agent pulls the image from the registry, Envoy runs it on live traffic; a new pluginConfig swaps it
in the same Envoy; a delete takes it out."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import pytest
import yaml

from tests.mesh.conftest import ECDS, Applied, Image, MeshUp, envoy_of, wait_until, wasmplugin, workshop
from workshop.checking.mesh import write_stored
from workshop.env import http

pytestmark = pytest.mark.slow


def _through(mesh: MeshUp) -> http.Response:
    return http.request(mesh.inbound + "/get", timeout=5)


def _filter(mesh: MeshUp, name: str) -> dict | None:
    return next((f for f in mesh.status()["filters"] if f["name"] == ECDS.format(name)), None)


def _server_info(mesh: MeshUp) -> dict:
    return json.loads(http.request(f"http://127.0.0.1:{mesh.port('sidecar_admin')}/server_info", timeout=5).text)


def _sidecar_pid(mesh: MeshUp) -> int:
    listed = json.loads(workshop("env", "status", "--json").stdout)["services"]
    return next(s["pid"] for s in listed if s["name"] == "sidecar")


def _in_force(mesh: MeshUp, name: str) -> dict:
    found = wait_until(lambda: (f := _filter(mesh, name)) and f["kind"] == "wasm" and f, timeout=60)
    assert found, f"{name} never became a Wasm filter in the sidecar: {mesh.status()}"
    return found  # type: ignore[return-value]


def _carries(mesh: MeshUp, headers: dict[str, str], timeout: float = 30) -> http.Response:
    got = wait_until(lambda: (r := _through(mesh)).status == 200 and all(r.headers.get(k) == v for k, v in headers.items()) and r,
                     timeout=timeout, every=0.05)
    assert got, f"no response through the sidecar carried {headers}: last {_through(mesh).headers}"
    return got  # type: ignore[return-value]


def test_an_applied_wasmplugin_runs_in_the_sidecar(applied: Applied, image: Image) -> None:
    mesh, token = applied.mesh, secrets.token_hex(4)
    assert "x-team" not in _through(mesh).headers
    done = applied.apply("add-headers", wasmplugin("add-headers", image.url, headers={"x-team": token}))
    assert done.returncode == 0 and "wasmplugin.extensions.istio.io/add-headers created" in done.stdout, done.stderr
    became = _in_force(mesh, "add-headers")
    # the agent pulled the image and named the module after its manifest digest, under its (private) cache
    assert became["module"].startswith("/var/lib/istio/data/") and became["module"].endswith(image.digest.removeprefix("sha256:") + ".wasm")
    assert json.loads(became["config"]) == {"headers": {"x-team": token}}, "Envoy hands the module pluginConfig as JSON"
    seen = mesh.status()
    assert {"kind": "WasmPlugin", "name": "add-headers", "url": image.url}.items() <= next(
        r for r in seen["resources"] if r["name"] == "add-headers").items()
    assert seen["chain"].index(ECDS.format("add-headers")) < seen["chain"].index("envoy.filters.http.router")
    assert _carries(mesh, {"x-team": token}).status == 200
    text = workshop("mesh", "status").stdout
    assert "WasmPlugin default/add-headers" in text and f"Wasm sha256:{image.digest[7:23]}" in text, text


def test_a_new_plugin_config_takes_effect_in_the_same_envoy(applied: Applied, image: Image) -> None:
    mesh = applied.mesh
    applied.apply("reconfigured", wasmplugin("reconfigured", image.url, headers={"x-run": "first"}))
    _in_force(mesh, "reconfigured")
    _carries(mesh, {"x-run": "first"})
    envoy = envoy_of(_sidecar_pid(mesh))
    before = _server_info(mesh)
    began = time.monotonic()
    changed = applied.apply("reconfigured", wasmplugin("reconfigured", image.url, headers={"x-run": "second"}))
    assert "configured" in changed.stdout, changed.stdout + changed.stderr
    _carries(mesh, {"x-run": "second"}, timeout=15)
    took = time.monotonic() - began
    after = _server_info(mesh)
    assert envoy.is_running() and envoy_of(_sidecar_pid(mesh)).pid == envoy.pid, "Envoy was restarted for a pluginConfig change"
    assert after["state"] == "LIVE"
    assert int(after["uptime_current_epoch"].rstrip("s")) >= int(before["uptime_current_epoch"].rstrip("s"))
    assert json.loads(_filter(mesh, "reconfigured")["config"]) == {"headers": {"x-run": "second"}}
    assert took < 15, f"the new pluginConfig took {took:.1f} s to reach the traffic"


def test_deleting_the_wasmplugin_takes_the_filter_out(applied: Applied, image: Image) -> None:
    mesh = applied.mesh
    applied.apply("short-lived", wasmplugin("short-lived", image.url, headers={"x-short-lived": "yes"}))
    _in_force(mesh, "short-lived")
    _carries(mesh, {"x-short-lived": "yes"})
    envoy = envoy_of(_sidecar_pid(mesh))
    gone = mesh.kubectl("delete", "-f", str(applied.folder / "short-lived.yaml"))
    assert gone.returncode == 0 and "deleted" in gone.stdout, gone.stderr
    assert wait_until(lambda: _filter(mesh, "short-lived") is None, timeout=30), "the filter stayed in the sidecar"
    assert ECDS.format("short-lived") not in mesh.status()["chain"]
    response = wait_until(lambda: (r := _through(mesh)).status == 200 and "x-short-lived" not in r.headers and r, timeout=15)
    assert response, "traffic should flow on without the plugin's header"
    assert "NotFound" in mesh.kubectl("get", "wasmplugin", "short-lived").stderr
    assert envoy_of(_sidecar_pid(mesh)).pid == envoy.pid, "Envoy was restarted by the delete"


def test_a_check_names_the_other_extensions_applied(applied: Applied, image: Image) -> None:
    """A header a check misses may come from another lab's extension: the failure names what else is applied."""
    from workshop.checking.commands import Deadline
    from workshop.checking.fixtures import Services
    from workshop.checking.mesh import Mesh

    applied.apply("mine", wasmplugin("mine", image.url, headers={"x-team": "blue"}))
    assert applied.apply("older", wasmplugin("older", image.url, headers={"x-team": "red"})).returncode == 0
    checks_see = Mesh(Services(), Deadline(60), [])  # what a check's `mesh` fixture is
    said = checks_see.others_in_force({"kind": "WasmPlugin", "metadata": {"name": "mine", "namespace": "default"}})
    assert "also applied: WasmPlugin default/older" in said and "`kubectl delete wasmplugin older`" in said
    assert "default/mine" not in said
    alone = checks_see.others_in_force({"kind": "WasmPlugin", "metadata": {"name": "older"}})
    assert "WasmPlugin default/mine" in alone and "default/older" not in alone


def _stored(mesh: MeshUp, name: str, *dry_run: str, path: Path | None = None) -> dict:
    args = ("apply", *dry_run, "-o", "json", "-f", str(path)) if path else ("get", "wasmplugin", name, "-o", "json")
    answer = mesh.kubectl(*args)
    assert answer.returncode == 0, answer.stderr
    return json.loads(answer.stdout)


def test_a_resource_a_check_applies_again_keeps_what_the_api_server_stored(applied: Applied, image: Image) -> None:
    """Lab 07's and 08's update steps apply the learner's WasmPlugin again with one header more, and lab 06's breaks
    step its EnvoyFilter with another sha256: written from what the API server stored, every value keeps its type.
    A string like 1e5 is one PyYAML writes bare, and the API server's reader takes for a number."""
    mesh = applied.mesh
    assert applied.apply("typed", wasmplugin("typed", image.url, headers={"x-run": "1e5"})).returncode == 0
    stored = _stored(mesh, "typed")
    stored["spec"]["pluginConfig"]["headers"]["x-check"] = "2e3"
    bare = applied.folder / "bare.yaml"
    bare.write_text(yaml.safe_dump(stored))
    assert _stored(mesh, "typed", "--dry-run=server", path=bare)["spec"]["pluginConfig"]["headers"] == {"x-run": 1e5, "x-check": 2e3}
    mesh.kubectl("apply", "-f", str(write_stored([stored], applied.folder / "typed.yaml")))
    again = _stored(mesh, "typed")
    assert again["spec"]["pluginConfig"]["headers"] == {"x-run": "1e5", "x-check": "2e3"}
    assert again["metadata"]["uid"] == stored["metadata"]["uid"], "the same resource, changed (not a new one)"
