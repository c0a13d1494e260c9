"""Lab 08: a new version, pull policies, failure strategies and a private registry, judged by Istio itself:
what the istio-agent fetched (its own counter), what the sidecar's Envoy runs, and live traffic."""

import base64
import json
import secrets
from contextlib import contextmanager

import pytest

from workshop.checking import fail
from workshop.checking.mesh import agent_url, pinned, plugin_headers, read_resource, where, write_stored
from workshop.env import wasm_images

KIND = "WasmPlugin"


def _lacks(response, headers):
    return {k: v for k, v in headers.items() if response.headers.get(k) != v}


def _in_force(mesh, path, want="wasm"):
    """Apply ``path``; its WasmPlugin as the API server stored it (what Istio reads: its namespace and the
    values' types as the API server gave them), and what it became in the sidecar once it is ``want`` (or what it is)."""
    plugin = read_resource(path, KIND)
    mesh.apply(path)
    stored = mesh.stored(path, KIND)
    plugin = stored[0] if stored else plugin
    namespace, name = where(plugin)
    return plugin, mesh.in_force(KIND, name, namespace, want=want)


def _running(mesh, path):
    plugin, became = _in_force(mesh, path)
    if became is None:
        mesh.explain_refused_filter(f"the sidecar's Envoy could not start the filter of {path.name} with its pluginConfig",
                                      *where(plugin))
    if became is None or became.kind != "wasm":
        fail(f"the sidecar does not run the filter of {path.name}",
             seen="\n".join(mesh.fetch_errors()[-2:]) or (became.kind if became else "nothing for it"),
             hint="push the image, pin it (`sh pin.sh`), and see `workshop mesh status`")
    return plugin


@pytest.mark.step("v2", timeout=120)
def test_version_2_runs_in_the_mesh(workspace, mesh, services):
    """wasmplugin.yaml brings version 2: responses through the sidecar carry x-filter-version: v2"""
    services.ensure("registry")
    _running(mesh, workspace / "wasmplugin.yaml")
    # one of the values: any other filter running version 2 (lab 09's TrafficExtension) adds one too
    response = mesh.until(lambda r: "v2" in r.header_values("x-filter-version"))
    if "v2" not in response.header_values("x-filter-version"):
        fail("the filter in force is not version 2", expected="x-filter-version: v2",
             seen=response.headers.get("x-filter-version", "no x-filter-version header"),
             hint="add the header in main.go, rebuild, push to :v2, point url at :v2 and run `sh pin.sh`")


@pytest.mark.step("pull-policy", timeout=120)
def test_always_pulls_a_tag_pushed_again(workspace, mesh, services, go, tmp_path):
    """with wasmplugin.yaml's pull policy, the istio-agent pulls the tag again when the WasmPlugin changes"""
    services.ensure("registry")
    plugin = _running(mesh, workspace / "wasmplugin.yaml")
    spec = plugin["spec"]
    url = agent_url(str(spec.get("url", "")))
    if pinned(url, str(spec.get("sha256") or "")):
        fail("wasmplugin.yaml pins one module (sha256, or a digest in the url): the agent serves that module from its "
             "cache, whatever the pull policy, and a new push to the tag is never used",
             hint="for this step take sha256 out (and name the image by its tag), and set imagePullPolicy: Always")
    # the tag pushed again (the same module, a new manifest), then a change to the WasmPlugin
    wasm_images.push_module(url.removeprefix("oci://"), go.build_wasm(inspect=False).path.read_bytes(), note=secrets.token_hex(4))
    pulls = mesh.agent_fetches()
    token = f"check-{secrets.token_hex(4)}"
    spec.setdefault("pluginConfig", {}).setdefault("headers", {})["x-workshop-check"] = token
    try:
        mesh.apply(write_stored([plugin], tmp_path / "wasmplugin.yaml"))  # as Istio has it, one header more
        response = mesh.until(lambda r: r.headers.get("x-workshop-check") == token)
        if response.headers.get("x-workshop-check") != token:
            mesh.explain_refused_filter("the sidecar's Envoy could not start the filter with the changed pluginConfig",
                                         *where(plugin))
            fail("the changed WasmPlugin did not reach the sidecar", seen="\n".join(mesh.fetch_errors()[-2:]) or "-")
        if mesh.agent_fetches() <= pulls:
            policy = spec.get("imagePullPolicy", "unset: IfNotPresent for a tag other than :latest")
            fail("the istio-agent kept its cached module: the tag was pushed again, and the change did not pull it",
                 expected="a pull from the registry when the WasmPlugin changes", seen=f"imagePullPolicy: {policy}",
                 hint="imagePullPolicy: Always makes the agent pull the tag again whenever the WasmPlugin changes")
    finally:
        mesh.apply(workspace / "wasmplugin.yaml")


@contextmanager
def _unverifiable(mesh, path, want, hint):
    """The WasmPlugin in ``path`` applied, its image one the agent cannot load; deleted afterwards."""
    try:
        plugin, became = _in_force(mesh, path, want=want)
        if became is not None and became.kind == "wasm":
            fail(f"the agent could load the image of {path.name}, so nothing failed", hint=hint)
        yield plugin, became
    finally:
        mesh.delete(path)


@pytest.mark.step("failures", timeout=120)
def test_fail_close_denies_traffic_when_the_image_cannot_be_loaded(workspace, mesh, services):
    """fail-close.yaml: the agent cannot load its image, and the sidecar denies every request in its place"""
    services.ensure("registry")
    hint = "make it unloadable: a sha256 that does not match (64 hex digits, quoted), or a tag never pushed"
    with _unverifiable(mesh, workspace / "fail-close.yaml", "deny-all", hint) as (_plugin, became):
        response = mesh.until(lambda r: r.status == 403, timeout=10)
        if response.status != 403:
            fail("the sidecar lets requests through although the module could not be loaded",
                 expected="HTTP 403 (RBAC: access denied): failStrategy FAIL_CLOSE (the default)",
                 seen=f"HTTP {response.status}; in the plugin's place: {became.kind if became else 'nothing'}",
                 hint="failStrategy: FAIL_CLOSE")


@pytest.mark.step("failures", timeout=120)
def test_fail_open_lets_traffic_through_without_the_filter(workspace, mesh, services):
    """fail-open.yaml: the same unloadable image, and the sidecar lets requests through without that filter"""
    services.ensure("registry")
    with _unverifiable(mesh, workspace / "fail-open.yaml", "allow-all",
                       "use the same unloadable image as in fail-close.yaml") as (plugin, became):
        headers = plugin_headers(plugin)
        response = mesh.until(lambda r: r.status == 200, timeout=10)
        if response.status != 200 or any(k in response.headers for k in headers):
            fail("with the module missing, requests should pass, without this plugin's headers",
                 expected="HTTP 200: failStrategy FAIL_OPEN", seen=f"HTTP {response.status}; in its place: "
                 f"{became.kind if became else 'nothing'}", hint="failStrategy: FAIL_OPEN")


def _login(workspace, registry):
    """The dockerconfigjson of secret.yaml (what istiod would send the agent), or a failing verdict."""
    secret = read_resource(workspace / "secret.yaml", "Secret")
    raw = (secret.get("stringData") or {}).get(".dockerconfigjson")
    if raw is None and (secret.get("data") or {}).get(".dockerconfigjson"):
        raw = base64.b64decode(secret["data"][".dockerconfigjson"]).decode(errors="replace")
    if raw is None:
        fail("secret.yaml holds no .dockerconfigjson", expected="type: kubernetes.io/dockerconfigjson, and the login "
             "under stringData (as JSON) or data (base64)", seen=", ".join([*(secret.get("stringData") or {}),
                                                                             *(secret.get("data") or {})]) or "no data")
    try:
        json.loads(raw)
    except ValueError:
        fail("the .dockerconfigjson in secret.yaml is not JSON", hint=f'{{"auths": {{"{registry}": {{"auth": "BASE64"}}}}}}')
    return raw  # Istio's fetcher, then the agent, say whether it is a login for this registry


@pytest.mark.step("private", timeout=150)
def test_a_private_image_pulls_with_the_secret(workspace, mesh, services):
    """secret.yaml and private.yaml: the sidecar pulls from the private registry with the login, never shown"""
    registry = services.ensure("private-registry")["private-registry"]
    address = f"127.0.0.1:{registry.port}"
    plugin = read_resource(workspace / "private.yaml", KIND)
    url = agent_url(str((plugin.get("spec") or {}).get("url", "")))
    if not url.startswith(f"oci://{address}/"):
        fail("this step asks for the image in the private registry, and private.yaml pulls from elsewhere",
             expected=f"oci://{address}/wasm-workshop/filter:v2", seen=url)
    login = _login(workspace, address)
    answer = mesh.image(url, pull_secret=login)
    if not answer.ok:
        message, hint = wasm_images.explain(answer)
        fail(message, seen=f"Istio's fetcher, with the login of secret.yaml: {answer.error}", hint=hint)
    mesh.apply(workspace / "secret.yaml")
    try:
        running = _running(mesh, workspace / "private.yaml")
        headers = plugin_headers(running)
        response = mesh.until(lambda r: not _lacks(r, headers))
        if _lacks(response, headers):
            mesh.explain_refused_filter("the sidecar's Envoy could not start the filter of private.yaml with its pluginConfig",
                                         *where(running))
            fail("the plugin from the private registry is not in force", expected=", ".join(f"{k}: {v}" for k, v in headers.items()))
    finally:
        mesh.delete(workspace / "private.yaml")
