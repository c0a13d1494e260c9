"""Lab 07: the filter deployed with Istio's WasmPlugin, judged by Istio itself: the Kubernetes API server
(its schema and CEL rules), istiod's webhook, the istio-agent's fetch, the sidecar's Envoy and live traffic."""

import secrets

import pytest

from workshop.checking import fail
from workshop.checking.mesh import (
    agent_url,
    explain_refusal,
    headers_in,
    pinned,
    plugin_headers,
    read_resource,
    where,
    write_stored,
)
from workshop.env import wasm_images

FILE = "wasmplugin.yaml"
KIND = "WasmPlugin"


def _plugin(workspace):
    return read_resource(workspace / FILE, KIND)


def _show(headers):
    return ", ".join(f"{k}: {v}" for k, v in headers.items()) or "no headers"


def _lacks(response, headers):
    return {k: v for k, v in headers.items() if response.headers.get(k) != v}


def _stored(mesh, path):
    """The file's WasmPlugin as the API server holds it (its namespace: the file's, or default)."""
    stored = mesh.stored(path, KIND)
    if not stored:
        fail(f"the API server holds no WasmPlugin of {path.name} after `kubectl apply`", hint="`kubectl get wasmplugins -A`")
    return stored[0]


def _apply_and_see(mesh, workspace, plugin, path=None):
    """Apply the learner's file as they would; their filter in the sidecar's Envoy, and the headers of the
    configuration Envoy hands it on the traffic. Returns what it became, and the WasmPlugin as the API server keeps it."""
    path = path or workspace / FILE
    mesh.apply(path)
    stored = _stored(mesh, path)
    namespace, name = where(stored)
    became = mesh.in_force(KIND, name, namespace)
    if became is None or became.kind != "wasm":
        if became is None:
            mesh.explain_refused_filter(f"the sidecar's Envoy could not start the filter of {namespace}/{name} with its pluginConfig",
                                          namespace, name)
        errors = mesh.fetch_errors()
        if became is not None or errors:
            fail(f"the istio-agent could not load the image of {namespace}/{name}: the sidecar runs "
                 f"{became.kind if became else 'nothing'} in its place",
                 seen="\n".join(errors[-2:]) or "no words from the agent yet",
                 hint="`workshop mesh status` shows it; Istio's fetcher and `sh pin.sh` help (see the write step)")
        spec = plugin.get("spec") or {}
        fail(f"istiod gave the sidecar no filter for {namespace}/{name}",
             expected="a WasmPlugin that selects the workload app: httpbin (or, with no selector, every workload of "
                      "its namespace)",
             seen=f"namespace: {namespace}, selector: {spec.get('selector')}, targetRefs: {spec.get('targetRefs')}, "
                  f"match: {spec.get('match')}",
             hint="a WasmPlugin applies to workloads of its own namespace (default, the workload's) or, in the root "
                  "namespace istio-system, to those it selects in the whole mesh")
    headers = headers_in(became.config) or plugin_headers(plugin)
    response = mesh.until(lambda r: r.status == 200 and not _lacks(r, headers))
    if response.status != 200 or _lacks(response, headers):
        mesh.explain_refused_filter(f"the sidecar's Envoy could not start the filter of {namespace}/{name} with its pluginConfig",
                                      namespace, name)
        fail("the response through the sidecar lacks the headers from pluginConfig", expected=_show(headers),
             seen=f"HTTP {response.status}; " + _show({k: response.headers.get(k, "(none)") for k in _lacks(response, headers)}),
             hint="does your filter read pluginConfig's headers (lab 03)? `workshop mesh status` shows what is in force"
                  + mesh.others_in_force(plugin))
    return became, stored


@pytest.mark.step("write", timeout=120)
def test_istio_accepts_the_wasmplugin(workspace, mesh):
    """the API server and istiod's webhook accept wasmplugin.yaml (a dry run: nothing changes)"""
    plugin = _plugin(workspace)
    if not plugin_headers(plugin):
        fail("spec.pluginConfig names no headers", expected="pluginConfig: {headers: {x-team: blue}}",
             hint="pluginConfig is the JSON your filter reads in OnPluginStart, written as YAML")
    answer = mesh.judge(workspace / FILE)
    if not answer.ok:
        fail("the API server refused wasmplugin.yaml", seen=answer.output[-600:], hint=explain_refusal(answer.output))


@pytest.mark.step("write", timeout=120)
def test_the_agent_would_load_the_pinned_image(workspace, mesh, services):
    """Istio's own fetcher would load the image at url, pinned by sha256"""
    spec = _plugin(workspace).get("spec") or {}
    url, field = str(spec.get("url", "")), str(spec.get("sha256") or "")
    sha = pinned(url, field)
    if not sha:
        fail("the image is not pinned: neither spec.sha256 nor a digest in the url names one module",
             expected="sha256: the image's manifest digest, or url: oci://HOST/REPO@sha256:DIGEST",
             hint="run `sh pin.sh`: it writes the image's digest into sha256")
    services.ensure("registry")
    answer = mesh.image(agent_url(url), sha256=field, policy=str(spec.get("imagePullPolicy") or "IfNotPresent"))
    if not answer.ok:
        message, hint = wasm_images.explain(answer, sha)
        if answer.module_sha256 == sha:
            hint = ("that is plugin.wasm's own sha256: for an oci:// image Istio compares the image's manifest "
                    f"digest, {answer.manifest_hex} (`sh pin.sh` writes it)")
        fail(message, expected=f"{url}, an image the agent loads, with sha256 {sha[:16]}…",
             seen=f"Istio's fetcher: {answer.error}", hint=hint)


@pytest.mark.step("apply", timeout=120)
def test_the_sidecar_runs_your_filter(workspace, mesh, services):
    """after `kubectl apply -f wasmplugin.yaml`, the sidecar's Envoy runs the filter and responses carry its headers"""
    services.ensure("registry")
    _apply_and_see(mesh, workspace, _plugin(workspace))


@pytest.mark.step("update", timeout=120)
def test_a_new_plugin_config_applies_without_restarting_envoy(workspace, mesh, services, tmp_path):
    """applying a changed pluginConfig changes the headers live, in the same Envoy"""
    services.ensure("registry")
    _became, stored = _apply_and_see(mesh, workspace, _plugin(workspace))
    before = mesh.uptime()
    token = f"check-{secrets.token_hex(4)}"
    stored["spec"].setdefault("pluginConfig", {}).setdefault("headers", {})["x-workshop-check"] = token
    try:
        mesh.apply(write_stored([stored], tmp_path / FILE))  # the learner's WasmPlugin as Istio has it, one header more
        response = mesh.until(lambda r: r.headers.get("x-workshop-check") == token)
        if response.headers.get("x-workshop-check") != token:
            mesh.explain_refused_filter("the sidecar's Envoy could not start the filter with the new pluginConfig", *where(stored))
            fail("after applying a new pluginConfig, the response does not carry the new header",
                 expected=f"x-workshop-check: {token}", seen=response.headers.get("x-workshop-check", "no such header"),
                 hint="does your filter read its configuration in OnPluginStart, each time it starts?")
        if mesh.uptime() < before:
            fail("Envoy was restarted to take the new configuration", expected="the same Envoy, its filter swapped through ECDS")
    finally:
        mesh.apply(workspace / FILE)  # back to the learner's own configuration


@pytest.mark.step("delete", timeout=120)
def test_deleting_the_wasmplugin_removes_the_filter(workspace, mesh, services):
    """`kubectl delete -f wasmplugin.yaml` takes the filter out: traffic still flows, without the headers"""
    services.ensure("registry")
    plugin = _plugin(workspace)
    became, stored = _apply_and_see(mesh, workspace, plugin)
    namespace, name = where(stored)
    before = mesh.uptime()
    mesh.delete(workspace / FILE)
    headers = headers_in(became.config) or plugin_headers(plugin)
    response = mesh.until(lambda r: r.status == 200 and not any(k in r.headers for k in headers))
    left = [k for k in headers if k in response.headers]
    still = [f for f in mesh.view().chain if f.endswith(f"/{namespace}.{name}~istio-translated-wasmplugin")]
    if response.status != 200 or left or still:
        fail("after the delete, the sidecar still changes the traffic", expected="HTTP 200 without the plugin's headers",
             seen=f"HTTP {response.status}, headers still there: {', '.join(left) or 'none'}"
                  + (f"; the inbound filter chain still holds {still[0]}" if still else ""),
             hint="`workshop mesh status` shows what is in force" + mesh.others_in_force(plugin))
    if mesh.uptime() < before:
        fail("Envoy was restarted by the delete", expected="the same Envoy, the filter taken out through ECDS")
