"""Lab 06: the filter deployed with a WasmPlugin, judged on the mesh (the local one unless a cluster has Istio)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import yaml

from workshop.checking import fail
from workshop.env import http as httplib
from workshop.env import mesh, oci

FILE = "wasmplugin.yaml"


def _plugin(workspace: Path) -> mesh.WasmPlugin:
    try:
        found = mesh.load_file(workspace / FILE)
    except mesh.MeshError as exc:
        fail(str(exc), hint=exc.hint)
    except mesh.SchemaMissing as exc:
        fail(str(exc), hint="run `workshop prepare` once, online")
    plugins = [r for r in found if isinstance(r, mesh.WasmPlugin)]
    if len(plugins) != 1:
        fail(f"{FILE} should hold one WasmPlugin, and it holds {len(plugins)}")
    return plugins[0]


def _headers(plugin: mesh.WasmPlugin) -> dict[str, str]:
    return {str(k): str(v) for k, v in ((plugin.spec.get("pluginConfig") or {}).get("headers") or {}).items()}


def _apply(path: Path) -> mesh.Outcome:
    try:
        outcome = [o for o in mesh.LocalMesh().apply(path) if o.kind == "WasmPlugin"][0]
    except mesh.MeshError as exc:
        fail(f"`workshop mesh apply -f {path.name}` failed: {exc}", hint=exc.hint)
    if outcome.problem:
        fail(f"applying {path.name}: {outcome.problem}", hint=outcome.hint)
    return outcome


def _get(path: str = "/get") -> httplib.Response:
    sidecar = mesh.ensure_sidecar()
    try:
        return httplib.request(sidecar.url + path, timeout=5)
    except httplib.NoResponse as exc:
        fail(f"the request through the sidecar got no answer: {exc}", hint="`workshop mesh status --log` shows the sidecar's log")


def _missing(resp: httplib.Response, headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if resp.headers.get(k.lower()) != v}


@pytest.mark.step("write", timeout=60)
def test_the_wasmplugin_is_valid_and_selects_httpbin(workspace):
    """wasmplugin.yaml is valid against Istio's CRD, selects app: httpbin, and sets url, phase and pluginConfig headers"""
    plugin = _plugin(workspace)
    if not mesh.WORKLOAD.selected_by(plugin):
        fail("the WasmPlugin does not select the httpbin workload", expected="selector.matchLabels app: httpbin",
             seen=str(plugin.spec.get("selector") or plugin.spec.get("targetRefs") or "no selector"),
             hint="add selector: {matchLabels: {app: httpbin}} under spec")
    if plugin.scheme != "oci" or "/wasm-workshop/filter:" not in plugin.url:
        fail("spec.url does not name the image you pushed in lab 05", expected="oci://127.0.0.1:5000/wasm-workshop/filter:v1",
             seen=plugin.url)
    if plugin.phase == "UNSPECIFIED_PHASE":
        fail("spec.phase is not set", hint="choose where the filter goes: AUTHN, AUTHZ or STATS (STATS suits a header filter)")
    if not _headers(plugin):
        fail("spec.pluginConfig names no headers", expected='pluginConfig: {headers: {x-team: blue}}',
             hint="pluginConfig is the JSON your filter reads in OnPluginStart, written as YAML")


@pytest.mark.step("write", timeout=60)
def test_sha256_pins_the_pushed_image(workspace, services):
    """spec.sha256 is the digest of the image in the registry"""
    plugin = _plugin(workspace)
    wanted = plugin.spec.get("sha256")
    if not wanted:
        fail("spec.sha256 is not set", hint="run `sh pin.sh`: it writes the image's digest there")
    services.ensure("registry")
    try:
        image = oci.fetch(plugin.url.removeprefix("oci://"))
    except (oci.ImageProblem, ValueError) as exc:
        fail(f"the image cannot be read: {exc}", hint=getattr(exc, "hint", "") or "push it: sh push.sh")
    digest = image.manifest_digest.removeprefix("sha256:")
    if wanted != digest:
        hint = "run `sh pin.sh` again (did you push a new build?)"
        if wanted == image.wasm_sha256:
            hint = "that is plugin.wasm's sha256: for an oci:// image Istio checks the image's manifest digest (pin.py writes it)"
        fail("spec.sha256 does not match the image", expected=digest, seen=wanted, hint=hint)


@pytest.mark.step("apply", timeout=90)
def test_the_sidecar_adds_your_headers(workspace, services):
    """after `workshop mesh apply`, responses through httpbin's sidecar carry the pluginConfig headers"""
    plugin = _plugin(workspace)
    services.ensure("registry")
    _apply(workspace / FILE)
    resp = _get()
    missing = _missing(resp, _headers(plugin))
    if resp.status != 200 or missing:
        fail("the response through the sidecar lacks the headers from pluginConfig",
             expected=", ".join(f"{k}: {v}" for k, v in _headers(plugin).items()),
             seen=f"HTTP {resp.status}; " + (", ".join(f"{k}: {resp.headers.get(k.lower(), '(none)')}" for k in missing) or "-"),
             hint="does your filter read pluginConfig's headers (lab 03)? `workshop mesh status` shows what is in force")


@pytest.mark.step("update", timeout=90)
def test_a_new_plugin_config_applies_without_restarting_envoy(workspace, services, tmp_path):
    """applying a changed pluginConfig changes the headers live: same Envoy, one more filter update"""
    _plugin(workspace)
    services.ensure("registry")
    _apply(workspace / FILE)
    sidecar = mesh.ensure_sidecar()
    pid, reloads = sidecar.pid, sidecar.reloads()
    token = secrets.token_hex(4)
    doc = yaml.safe_load((workspace / FILE).read_text())
    doc["spec"]["pluginConfig"]["headers"]["x-workshop-check"] = token
    changed = tmp_path / FILE
    changed.write_text(yaml.safe_dump(doc))
    try:
        _apply(changed)
        resp = _get()
        after = mesh.ensure_sidecar()
        if resp.headers.get("x-workshop-check") != token:
            fail("after applying a new pluginConfig, the response does not carry the new header",
                 expected=f"x-workshop-check: {token}", seen=resp.headers.get("x-workshop-check", "no such header"),
                 hint="does your filter read its configuration in OnPluginStart, each time it starts?")
        if after.pid != pid:
            fail("Envoy was restarted to take the new configuration", expected=f"the same Envoy (pid {pid})",
                 seen=f"pid {after.pid}")
        if after.reloads() <= reloads:
            fail("Envoy's ECDS reload counter did not move", expected="one more extension_config_discovery reload")
    finally:
        mesh.LocalMesh().apply(workspace / FILE)  # back to the learner's own configuration


@pytest.mark.step("delete", timeout=90)
def test_deleting_the_wasmplugin_removes_the_filter(workspace, services):
    """`workshop mesh delete` takes the filter out: traffic still flows, without the headers"""
    plugin = _plugin(workspace)
    services.ensure("registry")
    _apply(workspace / FILE)
    before = mesh.ensure_sidecar().pid
    try:
        mesh.LocalMesh().delete(plugin.name, plugin.namespace)
    except mesh.MeshError as exc:
        fail(f"`workshop mesh delete {plugin.name}` failed: {exc}", hint=exc.hint)
    resp = _get()
    left = [k for k in _headers(plugin) if k.lower() in resp.headers]
    if resp.status != 200 or left:
        fail("after the delete, the sidecar still changes the traffic", expected="HTTP 200 without the plugin's headers",
             seen=f"HTTP {resp.status}, headers still there: {', '.join(left) or 'none'}")
    if mesh.ensure_sidecar().pid != before:
        fail("Envoy was restarted by the delete", expected="the same Envoy, its filter slot emptied through ECDS")
