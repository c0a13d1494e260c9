"""Lab 07: a new version, pull policies, failure strategies and a private registry, judged on the local mesh."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from workshop.checking import fail
from workshop.env import http as httplib
from workshop.env import mesh
from workshop.env.mesh import private_registry


def _plugin(path: Path) -> mesh.WasmPlugin:
    if not path.exists():
        fail(f"{path.name} is missing", hint=f"write {path.name} in your lab folder (see the lab)")
    try:
        found = [r for r in mesh.load_file(path) if isinstance(r, mesh.WasmPlugin)]
    except mesh.MeshError as exc:
        fail(str(exc), hint=exc.hint)
    if len(found) != 1:
        fail(f"{path.name} should hold one WasmPlugin, and it holds {len(found)}")
    return found[0]


def _apply(path: Path, expect_problem: bool = False) -> mesh.Outcome:
    try:
        outcomes = mesh.LocalMesh().apply(path)
    except mesh.MeshError as exc:
        fail(f"`workshop mesh apply -f {path.name}` failed: {exc}", hint=exc.hint)
    outcome = [o for o in outcomes if o.kind == "WasmPlugin"][-1]
    if outcome.problem and not expect_problem:
        fail(f"applying {path.name}: {outcome.problem}", hint=outcome.hint)
    return outcome


def _get() -> httplib.Response:
    try:
        return httplib.request(mesh.ensure_sidecar().url + "/get", timeout=5)
    except httplib.NoResponse as exc:
        fail(f"the request through the sidecar got no answer: {exc}", hint="`workshop mesh status --log`")


def _delete(plugin: mesh.WasmPlugin) -> None:
    try:
        mesh.LocalMesh().delete(plugin.name, plugin.namespace)
    except mesh.MeshError:
        pass


@pytest.mark.step("v2", timeout=90)
def test_version_2_runs_in_the_mesh(workspace, services):
    """wasmplugin.yaml names the v2 image, and responses through the sidecar carry x-filter-version: v2"""
    services.ensure("registry")
    _plugin(workspace / "wasmplugin.yaml")
    _apply(workspace / "wasmplugin.yaml")
    resp = _get()
    if resp.headers.get("x-filter-version") != "v2":
        fail("the filter in force is not version 2", expected="x-filter-version: v2",
             seen=resp.headers.get("x-filter-version", "no x-filter-version header"),
             hint="add the header in main.go, rebuild, push to :v2, point url at :v2 and run `sh pin.sh`")


@pytest.mark.step("pull-policy", timeout=90)
def test_always_asks_the_registry_on_every_change(workspace, services, tmp_path):
    """with imagePullPolicy: Always, each change to the WasmPlugin pulls the image again (IfNotPresent would not)"""
    services.ensure("registry")
    plugin = _plugin(workspace / "wasmplugin.yaml")
    if plugin.pull_policy != "Always":
        fail("the sidecar would keep its cached module after a push to the same tag",
             expected="imagePullPolicy: Always", seen=f"imagePullPolicy: {plugin.spec.get('imagePullPolicy', 'unset (IfNotPresent)')}")
    _apply(workspace / "wasmplugin.yaml")
    doc = yaml.safe_load((workspace / "wasmplugin.yaml").read_text())
    doc["spec"].setdefault("pluginConfig", {}).setdefault("headers", {})["x-workshop-check"] = secrets.token_hex(4)
    changed = tmp_path / "wasmplugin.yaml"
    changed.write_text(yaml.safe_dump(doc))
    try:
        _apply(changed)
        mine = [p for p in mesh.LocalMesh().status()["plugins"] if p["name"] == plugin.name]
        if not mine or not mine[0]["pulled"]:
            fail("the change was served from the cache, not pulled", expected="a pull from the registry (Always)")
    finally:
        mesh.LocalMesh().apply(workspace / "wasmplugin.yaml")


@contextmanager
def _unverifiable(workspace: Path, name: str, strategy: str, says: str, hint: str) -> Iterator[mesh.WasmPlugin]:
    """The WasmPlugin in ``name`` applied with ``strategy``, its image failing to verify; deleted afterwards."""
    path = workspace / name
    plugin = _plugin(path)
    if plugin.fail_strategy != strategy:
        fail(f"{name} does not {says}", expected=f"failStrategy: {strategy}", seen=plugin.fail_strategy)
    try:
        outcome = _apply(path, expect_problem=True)
        if not outcome.problem:
            fail(f"the image of {name} could be pulled and verified, so nothing failed", hint=hint)
        yield plugin
    finally:
        _delete(plugin)


@pytest.mark.step("failures", timeout=90)
def test_fail_close_denies_traffic_when_the_image_cannot_be_verified(workspace, services):
    """fail-close.yaml: its image cannot be verified, and FAIL_CLOSE makes the sidecar deny every request"""
    services.ensure("registry")
    with _unverifiable(workspace, "fail-close.yaml", "FAIL_CLOSE", "fail closed",
                       "make it unverifiable: a sha256 that does not match (64 hex digits), or a tag that was never pushed"):
        resp = _get()
        if resp.status != 403:
            fail("with FAIL_CLOSE and no module, the sidecar should deny requests", expected="HTTP 403 (RBAC: access denied)",
                 seen=f"HTTP {resp.status}")


@pytest.mark.step("failures", timeout=90)
def test_fail_open_lets_traffic_through_without_the_filter(workspace, services):
    """fail-open.yaml: the same broken image, and FAIL_OPEN lets requests through without that filter"""
    services.ensure("registry")
    with _unverifiable(workspace, "fail-open.yaml", "FAIL_OPEN", "fail open",
                       "use the same unverifiable image as in fail-close.yaml") as plugin:
        resp = _get()
        headers = (plugin.spec.get("pluginConfig") or {}).get("headers") or {}
        if resp.status != 200 or any(k.lower() in resp.headers for k in headers):
            fail("with FAIL_OPEN, requests should pass, without this plugin's headers",
                 expected="HTTP 200", seen=f"HTTP {resp.status}")


@pytest.fixture
def private(go):  # type: ignore[no-untyped-def]
    """The private registry (a login required), holding your current build as wasm-workshop/filter:v2."""
    module = go.build_wasm(inspect=False)
    try:
        registry = private_registry.start()
    except mesh.MeshError as exc:
        fail(f"the private registry could not start: {exc}", hint=exc.hint)
    try:
        registry.push(module.path)
        yield registry
    finally:
        registry.stop()


@pytest.mark.step("private", timeout=120)
def test_a_private_image_pulls_with_the_secret(workspace, services, private):
    """secret.yaml and private.yaml: the sidecar pulls from the private registry with the login, never shown"""
    services.ensure("registry")
    plugin = _plugin(workspace / "private.yaml")
    if not plugin.url.removeprefix("oci://").startswith(private.address + "/"):
        fail("private.yaml does not pull from the private registry", expected=f"oci://{private.address}/wasm-workshop/filter:v2",
             seen=plugin.url)
    if not plugin.spec.get("imagePullSecret"):
        fail("private.yaml names no imagePullSecret", hint="add imagePullSecret: the name of the Secret in secret.yaml")
    if not (workspace / "secret.yaml").exists():
        fail("secret.yaml is missing", hint="write a Secret of type kubernetes.io/dockerconfigjson")
    try:
        outcomes = mesh.LocalMesh().apply(workspace / "secret.yaml")
    except mesh.MeshError as exc:
        fail(f"secret.yaml: {exc}", hint=exc.hint)
    if private_registry.PASSWORD in repr(outcomes):
        fail("applying the Secret showed the password", hint="report this: credentials must never be printed")
    try:
        _apply(workspace / "private.yaml")
        resp = _get()
        headers = {k: str(v) for k, v in ((plugin.spec.get("pluginConfig") or {}).get("headers") or {}).items()}
        missing = {k: v for k, v in headers.items() if resp.headers.get(k.lower()) != v}
        if missing:
            fail("the plugin from the private registry is not in force", expected=", ".join(f"{k}: {v}" for k, v in missing.items()))
    finally:
        _delete(plugin)
