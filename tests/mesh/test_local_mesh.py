"""The local mesh for real: Envoy sidecar, go-httpbin, the CNCF registry, a private registry with htpasswd."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from tests.mesh.conftest import push, wasmplugin
from workshop.env import http, mesh, services, supervisor
from workshop.env.mesh import private_registry, sidecar
from workshop.env.mesh.local import MeshState

pytestmark = pytest.mark.slow


@pytest.fixture
def registry() -> str:
    info = services.ensure(["registry"])["registry"]
    yield f"127.0.0.1:{info.port}"
    mesh.LocalMesh().down()
    services.stop_owned()
    assert sidecar.load() is None


def _apply(tmp_path: Path, text: str, name: str = "wp.yaml") -> list[mesh.Outcome]:
    path = tmp_path / name
    path.write_text(text)
    return mesh.LocalMesh().apply(path)


def _get() -> http.Response:
    return http.request(mesh.ensure_sidecar().url + "/get", timeout=5)


def test_apply_update_delete_without_restart(tmp_path: Path, registry: str, built_filter: Path) -> None:
    push(built_filter, f"{registry}/wasm-workshop/filter:v1")
    url = f"oci://{registry}/wasm-workshop/filter:v1"
    [first] = _apply(tmp_path, wasmplugin(url))
    assert first.action == "created" and not first.problem, first
    assert _get().headers["x-team"] == "blue"
    running = mesh.ensure_sidecar()
    pid, reloads = running.pid, running.reloads()
    started = time.monotonic()
    [second] = _apply(tmp_path, wasmplugin(url, headers="x-team: green"))
    assert second.action == "configured" and "from the cache" in second.detail
    assert _get().headers["x-team"] == "green"
    assert time.monotonic() - started < 5
    assert mesh.ensure_sidecar().pid == pid and running.reloads() > reloads
    status = mesh.LocalMesh().status()
    assert status["plugins"][0]["digest"] and status["plugins"][0]["form"] == "OCI artifact"
    mesh.LocalMesh().delete("add-headers")
    resp = _get()
    assert resp.status == 200 and "x-team" not in resp.headers
    with pytest.raises(mesh.MeshError, match="no WasmPlugin or Secret nope"):
        mesh.LocalMesh().delete("nope")


def test_phase_and_priority_order_the_filters(tmp_path: Path, registry: str, built_filter: Path) -> None:
    push(built_filter, f"{registry}/wasm-workshop/filter:v1")
    url = f"oci://{registry}/wasm-workshop/filter:v1"
    _apply(tmp_path, wasmplugin(url, name="stats-low").replace("STATS", "STATS\n  priority: 1"), "a.yaml")
    _apply(tmp_path, wasmplugin(url, name="authn").replace("STATS", "AUTHN"), "b.yaml")
    _apply(tmp_path, wasmplugin(url, name="stats-high").replace("STATS", "STATS\n  priority: 9"), "c.yaml")
    order = [p["name"] for p in mesh.LocalMesh().status()["plugins"]]
    assert order == ["authn", "stats-high", "stats-low"]


def test_pull_policy_if_not_present_keeps_the_cache_always_pulls(tmp_path: Path, registry: str, built_filter: Path) -> None:
    tag = f"{registry}/wasm-workshop/filter:v1"
    push(built_filter, tag)
    url = f"oci://{tag}"
    _apply(tmp_path, wasmplugin(url))
    before = MeshState.load().plugins["default/add-headers"].module["digest"]
    (built_filter / "runtime-config.json").write_text(json.dumps({"type": "envoy_proxy", "abiVersions": ["v0.2.1"],
                                                                  "config": {"rootIds": ["v2"]}}))
    try:
        push(built_filter, tag)  # a new image under the same tag
    finally:
        (built_filter / "runtime-config.json").write_text((Path(__file__).parents[2] / "solutions/06-wasmplugin/runtime-config.json").read_text())
    [kept] = _apply(tmp_path, wasmplugin(url, headers="x-team: red"))
    assert "from the cache" in kept.detail
    assert MeshState.load().plugins["default/add-headers"].module["digest"] == before
    [pulled] = _apply(tmp_path, wasmplugin(url, headers="x-team: red", extra="  imagePullPolicy: Always\n"))
    assert "pulled" in pulled.detail
    assert MeshState.load().plugins["default/add-headers"].module["digest"] != before


def test_bad_images_fail_close_or_open(tmp_path: Path, registry: str, built_filter: Path) -> None:
    push(built_filter, f"{registry}/wasm-workshop/filter:v1")
    url = f"oci://{registry}/wasm-workshop/filter:v1"
    [wrong] = _apply(tmp_path, wasmplugin(url, extra='  sha256: "' + "a" * 64 + '"\n'))
    assert "does not match spec.sha256" in wrong.problem
    assert _get().status == 403  # FAIL_CLOSE is the default: deny-all
    assert mesh.LocalMesh().status()["plugins"][0]["in_force"] == "deny-all (FAIL_CLOSE)"
    [open_] = _apply(tmp_path, wasmplugin(url, extra='  sha256: "' + "a" * 64 + '"\n  failStrategy: FAIL_OPEN\n'))
    assert open_.problem and _get().status == 200
    [no_tag] = _apply(tmp_path, wasmplugin(f"oci://{registry}/wasm-workshop/filter"))
    assert "has no tag" in no_tag.problem
    push(built_filter, f"{registry}/wasm-workshop/not-wasm:v1", ["runtime-config.json:application/vnd.oci.image.layer.v1.tar"])
    [not_wasm] = _apply(tmp_path, wasmplugin(f"oci://{registry}/wasm-workshop/not-wasm:v1"))
    assert "Istio would not read this image" in not_wasm.problem
    [missing] = _apply(tmp_path, wasmplugin(f"oci://{registry}/wasm-workshop/filter:v9"))
    assert "has no wasm-workshop/filter:v9" in missing.problem
    [down] = _apply(tmp_path, wasmplugin("oci://127.0.0.1:9/wasm-workshop/filter:v1"))
    assert "does not answer" in down.problem


def test_a_selector_that_matches_nothing(tmp_path: Path, registry: str) -> None:
    [outcome] = _apply(tmp_path, wasmplugin(f"oci://{registry}/wasm-workshop/filter:v1").replace("app: httpbin", "app: reviews"))
    assert "selects no workload" in outcome.problem and "app=httpbin" in outcome.problem


def test_a_private_registry_with_a_pull_secret(tmp_path: Path, registry: str, built_filter: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    port = sidecar.http.port_free(15931) and 15931 or 15932
    monkeypatch.setenv("WORKSHOP_PORT_PRIVATE_REGISTRY", str(port))
    private = private_registry.start()
    try:
        private.push(built_filter / "plugin.wasm")
        url = f"oci://{private.address}/wasm-workshop/filter:v2"
        spec = wasmplugin(url, extra="  imagePullSecret: login\n  imagePullPolicy: Always\n")
        [no_secret] = _apply(tmp_path, spec)
        assert "imagePullSecret login is not applied" in no_secret.problem
        [anonymous] = _apply(tmp_path, wasmplugin(url))
        assert "wants a login" in anonymous.problem

        def secret(password: str) -> str:
            auth = base64.b64encode(f"{private_registry.USER}:{password}".encode()).decode()
            return ("apiVersion: v1\nkind: Secret\nmetadata: {name: login}\ntype: kubernetes.io/dockerconfigjson\n"
                    f"stringData:\n  .dockerconfigjson: '{json.dumps({'auths': {private.address: {'auth': auth}}})}'\n")

        _apply(tmp_path, secret("wrong-password"), "secret.yaml")
        [refused] = _apply(tmp_path, spec)
        assert "refused the login" in refused.problem and "wrong-password" not in repr(refused)
        outcomes = _apply(tmp_path, secret(private_registry.PASSWORD), "secret.yaml")
        assert private_registry.PASSWORD not in repr(outcomes)
        [ok] = _apply(tmp_path, spec)
        assert not ok.problem, ok
        assert _get().headers["x-team"] == "blue"
    finally:
        private.stop()


def test_the_cli(tmp_path: Path, registry: str, built_filter: Path) -> None:
    import subprocess
    import sys

    def workshop_cli(*args: str, check_code: int | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "workshop", "mesh", *args[1:]], capture_output=True, text=True,
                              timeout=120)
        if check_code is not None:
            assert proc.returncode == check_code, proc.stdout + proc.stderr
        return proc

    push(built_filter, f"{registry}/wasm-workshop/filter:v1")
    path = tmp_path / "wp.yaml"
    path.write_text(wasmplugin(f"oci://{registry}/wasm-workshop/filter:v1"))
    import os

    os.environ["WORKSHOP_SERVICES"] = "detached"  # the CLI's sidecar must outlive the command
    try:
        out = workshop_cli("mesh", "apply", "-f", str(path), "--target", "local")
        assert out.returncode == 0, out.stdout + out.stderr
        assert "stand-in for Istio" in out.stdout and "wasmplugin/add-headers created" in out.stdout
        status = workshop_cli("mesh", "status", "--target", "local", "--json", check_code=0)
        assert json.loads(status.stdout)["plugins"][0]["name"] == "add-headers"
        bad = workshop_cli("mesh", "apply", "-f", str(tmp_path / "missing.yaml"), "--target", "local")
        assert bad.returncode == 1 and "does not exist" in bad.stderr and "Traceback" not in bad.stderr
        assert workshop_cli("mesh", "delete", "add-headers", "--target", "local", check_code=0)
    finally:
        os.environ["WORKSHOP_SERVICES"] = "owned"
        mesh.LocalMesh().down()
        services.down(["httpbin"])
    assert [r for r in supervisor.tracked() if "envoy" in r.get("label", "")] == []


def test_selftest_labs_06_and_07(workshop_cli) -> None:  # type: ignore[no-untyped-def]
    for lab in ("06", "07"):
        data = json.loads(workshop_cli("selftest", lab, "--json", timeout=900).stdout)
        assert data["labs"][0]["ok"], data
