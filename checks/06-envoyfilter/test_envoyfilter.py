"""Lab 06: the filter deployed the Istio 1.5 way, with an EnvoyFilter that patches the sidecar's Envoy
configuration; the module comes from an HTTP server and Envoy fetches it itself. Judged by Istio and
Envoy: the API server and istiod's webhook (a dry run), what the sidecar's Envoy accepted into its
inbound listener (or refused, in its own words), and live traffic through the sidecar."""

import hashlib
import json
import re
import secrets
import time

import pytest
import yaml

from workshop.checking import CheckFailed, fail
from workshop.checking.mesh import explain_refusal, read_resource
from workshop.env import http as httplib

FILE = "envoyfilter.yaml"
KIND = "EnvoyFilter"
WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
ROUTER = "envoy.filters.http.router"

# What the API server and istiod say about an EnvoyFilter, and what to try (explanations only).
SAID = (
    (r"context: Unsupported value", "match.context is SIDECAR_INBOUND: the traffic that comes into the workload"),
    (r"operation: Unsupported value", "patch.operation is INSERT_BEFORE: your filter goes just before the router"),
    (r"applyTo: Unsupported value", "applyTo is HTTP_FILTER for the filter, CLUSTER for the module server's cluster"),
    (r"could not resolve Any message type", "an @type is misspelled: the filter's is " + WASM_TYPE),
    (r"cannot unmarshal number into Go value of type string",
     "a value made only of digits must be quoted (a sha256 such as \"0123…\"): YAML reads it as a number"),
    (r"cannot unmarshal (?!number into Go value of type string)",
     "a value has the wrong type for Envoy's field: compare with Envoy's API for that field"),
)


def _explain(text: str) -> str:
    return "; ".join(hint for pattern, hint in SAID if re.search(pattern, text)) or explain_refusal(text)


def _apply(mesh, path) -> None:
    """`kubectl apply -f`, as the learner does it; a refusal is explained in EnvoyFilter terms."""
    try:
        mesh.apply(path)
    except CheckFailed as exc:
        raise CheckFailed(exc.summary, expected=exc.expected, seen=exc.seen, hint=_explain(exc.seen)) from None


def _filter_patch(resource: dict) -> dict:
    """The Wasm filter's config (``typed_config.config``) from the file's HTTP_FILTER patch, or a failing verdict."""
    patches = [p for p in (resource.get("spec") or {}).get("configPatches") or [] if isinstance(p, dict)]
    for patch in patches:
        value = (patch.get("patch") or {}).get("value") or {}
        typed = value.get("typed_config") or {}
        if patch.get("applyTo") == "HTTP_FILTER" and typed.get("@type") == WASM_TYPE:
            return typed.get("config") or {}
    fail(f"{FILE} has no HTTP_FILTER patch that adds a Wasm filter",
         expected=f"a configPatches entry with applyTo: HTTP_FILTER whose value's typed_config has @type {WASM_TYPE}",
         seen=", ".join(str(p.get("applyTo")) for p in patches) or "no configPatches",
         hint="the value is the same Wasm filter you wrote into envoy.yaml in lab 02, with code.remote instead of code.local")


def _headers(config: dict) -> dict[str, str]:
    """The headers your filter will add: the JSON in the plugin's configuration (a StringValue)."""
    raw = config.get("configuration") or {}
    text = raw.get("value") if isinstance(raw, dict) else None
    try:
        parsed = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        parsed = None
    headers = parsed.get("headers") if isinstance(parsed, dict) else None
    if not isinstance(headers, dict) or not headers:
        fail("the Wasm filter's configuration names no headers",
             expected='configuration: {"@type": type.googleapis.com/google.protobuf.StringValue, '
                      'value: \'{"headers": {"x-team": "blue"}}\'}',
             seen=str(text)[:200] if text is not None else "no configuration.value",
             hint="Envoy hands the StringValue's text to your filter, which reads it as JSON in OnPluginStart (lab 03)")
    return {str(k).lower(): str(v) for k, v in headers.items()}


def _remote(config: dict) -> tuple[str, str]:
    remote = (((config.get("vm_config") or {}).get("code") or {}).get("remote")) or {}
    uri = str((remote.get("http_uri") or {}).get("uri") or "")
    return uri, str(remote.get("sha256") or "")


def _show(headers):
    return ", ".join(f"{k}: {v}" for k, v in headers.items()) or "no headers"


def _lacks(response, headers):
    """The headers missing from the response (other extensions may add values of the same names)."""
    return {k: v for k, v in headers.items() if v not in response.header_values(k)}


def _count(response, headers) -> int:
    """How many of these header values the response carries: one fewer once your filter no longer runs, even
    when another extension still in force (a WasmPlugin of lab 07, say) adds the same ones."""
    return sum(response.header_values(k).count(v) for k, v in headers.items())


def _admin(mesh, path: str, timeout: float = 20.0) -> str:
    """An answer from the sidecar's Envoy admin. Envoy answers it on its main thread, which is busy for a
    few seconds while it compiles a module just fetched: so ask again until it answers."""
    end = time.monotonic() + timeout
    with mesh.reach() as reach:
        while True:
            try:
                return httplib.request(reach.admin + path, timeout=5).text
            except httplib.NoResponse as exc:
                if time.monotonic() > end:
                    fail(f"the sidecar's Envoy admin does not answer: {exc}", hint="`workshop mesh status` shows the sidecar")


def _inbound(mesh) -> tuple[list[dict], list[tuple[str, str]]]:
    """The HTTP filters of the sidecar's inbound listener as Envoy runs them now (name and typed_config), and
    the listener updates Envoy refused and has not replaced since: (its words, the refused configuration)."""
    dump = json.loads(_admin(mesh, "/config_dump?resource=dynamic_listeners"))
    filters: list[dict] = []
    refused = []
    for entry in dump.get("configs") or []:
        error = entry.get("error_state") or {}
        if error.get("details"):
            refused.append((str(error["details"]), json.dumps(error.get("failed_configuration") or {})))
        listener = (entry.get("active_state") or {}).get("listener") or {}
        for chain in listener.get("filter_chains") or []:
            for f in chain.get("filters") or []:
                hcm = f.get("typed_config") or {}
                if str(hcm.get("@type", "")).endswith("HttpConnectionManager") and "inbound" in str(hcm.get("stat_prefix", "")):
                    filters = filters or hcm.get("http_filters") or []
    return filters, refused


def _inbound_filters(mesh) -> list[dict]:
    return _inbound(mesh)[0]


def _yours(filters: list[dict], sha256: str) -> int | None:
    """Where the inline Wasm filter whose module has this sha256 sits in the chain (an EnvoyFilter's filter is
    inline in the listener; WasmPlugins and TrafficExtensions come through ECDS instead)."""
    for i, f in enumerate(filters):
        typed = f.get("typed_config") or {}
        if typed.get("@type") == WASM_TYPE and _remote(typed.get("config") or {})[1] == sha256:
            return i
    return None


def _envoy_said(mesh, pattern: str) -> str:
    """The sidecar's last log lines that match ``pattern`` (Envoy's own words)."""
    with mesh.reach() as reach:
        log = reach.agent_log(mesh.target.kube, 400)
    lines = [ln.strip() for ln in log.splitlines() if re.search(pattern, ln, re.I) and "GET /" not in ln]
    return "\n".join(ln[-300:] for ln in lines[-2:])


def _gist(details: str) -> str:
    """Envoy's reason without the configuration it quotes: its last line, down to the innermost cause."""
    last = [ln.strip() for ln in details.splitlines() if ln.strip()][-1].lstrip(": ")
    return last.rpartition("caused by ")[2].rstrip(")") if "caused by " in last else last[-400:]


def _in_chain(mesh, sha256: str, timeout: float = 15.0) -> tuple[list[dict], int]:
    """Wait until the filter with this module is in the inbound chain; a failing verdict with Envoy's words if not."""
    began = time.monotonic()
    end = began + timeout
    while True:
        filters, refused = _inbound(mesh)
        at = _yours(filters, sha256)
        if at is not None:
            return filters, at
        # a refusal Envoy still holds after istiod's push has had time to land (~0.3 s): one of the file in force
        said = [details for details, config in refused if not sha256 or sha256 in config]
        if said and time.monotonic() > began + 2.0:
            hint = ("INSERT_BEFORE: Envoy wants the router last in every chain" if "must be the last filter" in said[-1]
                    else "Istio checks the patch's shape, Envoy checks its meaning: a misspelled field name is dropped "
                         "by istiod, and a field Envoy requires (sha256, timeout, runtime) is then missing")
            fail("the sidecar's Envoy refused the listener istiod built from your EnvoyFilter, and kept its last good one",
                 seen=f"Envoy: {_gist(said[-1])}", hint=hint)
        if time.monotonic() > end:
            fail("your Wasm filter is not in the sidecar's inbound listener: the patch matched nothing",
                 expected="match.context: SIDECAR_INBOUND, and listener.filterChain.filter.subFilter.name: "
                          f"{ROUTER}, a filter the inbound chain has",
                 seen="the inbound chain: " + " -> ".join(f.get("name", "?") for f in filters),
                 hint="an EnvoyFilter whose match finds nothing is accepted and does nothing: `workshop mesh status` "
                      "shows the chain it has to match")
        time.sleep(0.2)


def _apply_and_see(mesh, path, resource):
    """Apply the file as the learner does; their filter before the router, and its headers on the traffic."""
    config = _filter_patch(resource)
    headers = _headers(config)
    uri, sha = _remote(config)
    _apply(mesh, path)
    filters, at = _in_chain(mesh, sha)
    response = mesh.until(lambda r: r.status == 200 and not _lacks(r, headers), timeout=15)
    if response.status == 403:
        denying = [f"{r[0]} {r[2]}" for f in mesh.view().filters if f.kind == "deny-all" and (r := f.resource)]
        if denying:
            fail("another extension in force denies every request, before your filter is reached",
                 seen=f"a deny-all filter in place of {', '.join(denying)}: the istio-agent could not load its module",
                 hint="`workshop mesh status` says why (is the registry up? `workshop env up registry`); or delete it "
                      "with kubectl while you work on this lab")
    if response.status != 200 or _lacks(response, headers):
        why = _envoy_said(mesh, r"remote data source|failed to load|wasm.*(error|fail)")
        served = _served_sha256(uri)
        if served and served != sha:
            hint = (f"the module server serves another module (sha256 {served[:16]}…) than the one your file names: "
                    "`sh serve.sh` serves your build and writes its sha256; then apply again")
        else:
            hint = ("Envoy fetches a remote module when it builds the listener, and after a failed fetch it does not try "
                    "again until the listener changes: is the module server up (`workshop env up modules`), does a "
                    "CLUSTER patch add the cluster http_uri names? Then `kubectl delete -f envoyfilter.yaml` and apply it again")
        fail("the response through the sidecar lacks the headers of your filter's configuration",
             expected=_show(headers),
             seen=f"HTTP {response.status}" + (" (your filter failed closed)" if response.status == 503 else "")
                  + (f"; Envoy said: {why}" if why else ""), hint=hint)
    return filters[at], response


def _served_sha256(uri: str) -> str:
    """The sha256 of what the module server serves at ``uri`` now ("" when nothing answers)."""
    try:
        answer = httplib.request(uri, timeout=5)
    except httplib.NoResponse:
        return ""
    return hashlib.sha256(answer.body).hexdigest() if answer.status == 200 else ""


def _served(uri: str) -> bytes:
    if not re.match(r"^http://127\.0\.0\.1:\d+/", uri):
        fail("the module's uri is not on this machine's module server",
             expected="http://127.0.0.1:8077/plugin.wasm", seen=uri or "no vm_config.code.remote.http_uri.uri",
             hint="the sidecar's Envoy fetches it from 127.0.0.1; `sh serve.sh` puts plugin.wasm there")
    try:
        answer = httplib.request(uri, timeout=10)
    except httplib.NoResponse as exc:
        fail(f"nothing serves {uri}: {exc}", hint="`workshop env up modules` starts the module server")
    if answer.status != 200:
        fail(f"the module server answers {uri} with HTTP {answer.status}",
             hint="`sh serve.sh` copies plugin.wasm to the folder it serves (`workshop env status` shows which)")
    return answer.body


@pytest.mark.step("write", timeout=120)
def test_istio_accepts_the_envoyfilter(workspace, mesh):
    """the API server and istiod's webhook accept envoyfilter.yaml, which adds a Wasm filter (a dry run: nothing changes)"""
    resource = read_resource(workspace / FILE, KIND)
    _headers(_filter_patch(resource))
    answer = mesh.judge(workspace / FILE)
    if not answer.ok:
        fail(f"the API server refused {FILE}", seen=answer.text[-600:], hint=_explain(answer.text))


@pytest.mark.step("write", timeout=120)
def test_the_module_server_serves_the_module_you_pinned(workspace, services):
    """the module at vm_config.code.remote's uri is a Wasm module, and its sha256 is the one the file names"""
    config = _filter_patch(read_resource(workspace / FILE, KIND))
    uri, sha = _remote(config)
    services.ensure("modules")
    body = _served(uri)
    if not body.startswith(b"\0asm"):
        fail(f"{uri} is not a WebAssembly module", seen=repr(body[:16]), hint="`sh serve.sh` serves your plugin.wasm")
    actual = hashlib.sha256(body).hexdigest()
    if sha != actual:
        local = workspace / "plugin.wasm"
        rebuilt = local.exists() and hashlib.sha256(local.read_bytes()).hexdigest() != actual
        fail("the sha256 in envoyfilter.yaml is not the served module's: Envoy would fetch it and refuse it",
             expected=f"sha256: \"{actual}\"", seen=f"sha256: {sha or '(none)'}",
             hint=("your plugin.wasm differs from the served one: run `sh serve.sh` again (it also writes the sha256)"
                   if rebuilt else "`sh serve.sh` writes the served module's sha256 into the file (`sha256sum plugin.wasm`)"))


@pytest.mark.step("apply", timeout=120)
def test_the_sidecar_runs_your_filter_before_the_router(workspace, mesh, services):
    """after `kubectl apply -f envoyfilter.yaml`, the sidecar's inbound chain holds your Wasm filter before the router,
    and responses carry its headers"""
    services.ensure("modules")
    _apply_and_see(mesh, workspace / FILE, read_resource(workspace / FILE, KIND))


@pytest.mark.step("breaks", timeout=120)
def test_a_module_envoy_cannot_have_leaves_traffic_flowing(workspace, mesh, services, tmp_path):
    """with a module Envoy cannot verify (the file with another sha256), requests still pass, without the filter"""
    services.ensure("modules")
    resource = read_resource(workspace / FILE, KIND)
    _filter, running = _apply_and_see(mesh, workspace / FILE, resource)
    config = _filter_patch(resource)
    headers = _headers(config)
    baseline = _count(running, headers)
    wrong = secrets.token_hex(32)  # a module nobody serves: Envoy fetches the uri and refuses what it gets
    config["vm_config"]["code"]["remote"]["sha256"] = wrong
    broken = tmp_path / FILE
    broken.write_text(yaml.safe_dump(resource))
    try:
        _apply(mesh, broken)
        _in_chain(mesh, wrong)
        response = mesh.until(lambda r: r.status == 200 and _count(r, headers) < baseline, timeout=5)
        if response.status != 200:
            fail("with a module Envoy cannot verify, your filter takes down every request",
                 expected="HTTP 200 without your filter's headers: the filter skipped",
                 seen=f"HTTP {response.status}: the filter failed closed (Envoy's default)",
                 hint="failure_policy: FAIL_OPEN in the Wasm filter's config (next to name and vm_config) lets "
                      "requests through when the module cannot be loaded")
        if _count(response, headers) >= baseline:
            fail("the filter still adds its headers although its module cannot be verified",
                 seen=_show({k: ", ".join(response.header_values(k)) for k in headers}))
    finally:
        mesh.apply(workspace / FILE)  # back to the learner's own file
        mesh.until(lambda r: r.status == 200 and not _lacks(r, headers), timeout=15)


@pytest.mark.step("delete", timeout=120)
def test_deleting_the_envoyfilter_takes_the_filter_out(workspace, mesh, services):
    """`kubectl delete -f envoyfilter.yaml` takes the filter out: traffic still flows, without its headers"""
    services.ensure("modules")
    resource = read_resource(workspace / FILE, KIND)
    _filter, running = _apply_and_see(mesh, workspace / FILE, resource)
    config = _filter_patch(resource)
    headers, (_uri, sha) = _headers(config), _remote(config)
    baseline = _count(running, headers)
    before = mesh.uptime()
    mesh.delete(workspace / FILE)
    response = mesh.until(lambda r: r.status == 200 and _count(r, headers) < baseline
                          and _yours(_inbound_filters(mesh), sha) is None)
    still = _yours(_inbound_filters(mesh), sha) is not None
    if response.status != 200 or _count(response, headers) >= baseline or still:
        fail("after the delete, the sidecar still runs your filter", expected="HTTP 200 without your filter's headers",
             seen=f"HTTP {response.status}; " + _show({k: ", ".join(response.header_values(k)) or "(none)" for k in headers})
                  + ("; your filter is still in the inbound chain" if still else ""))
    if mesh.uptime() < before:
        fail("Envoy was restarted by the delete", expected="the same Envoy, its inbound listener updated")
