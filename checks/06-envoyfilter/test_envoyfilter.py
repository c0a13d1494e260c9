"""Lab 06: the filter deployed the Istio 1.5 way, with an EnvoyFilter that patches the sidecar's Envoy
configuration; the module comes from an HTTP server and Envoy fetches it itself. Judged by Istio and
Envoy: the API server and istiod's webhook (a dry run), what the sidecar's Envoy accepted into its
inbound listener (or refused, in its own words), and live traffic through the sidecar."""

import hashlib
import json
import re
import secrets
import time
from urllib.parse import urlsplit

import pytest

from workshop.checking import CheckFailed, fail
from workshop.checking import envoy_config as ec
from workshop.checking.mesh import admin_answer, explain_refusal, headers_in, read_resources, write_stored
from workshop.checking.mesh_status import ADMIN_TIMEOUT
from workshop.core import waiting
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


def _documents(path) -> list[dict]:
    """Every EnvoyFilter in the file: a file may hold several (Istio's docs often give the cluster and the
    filter as two)."""
    return read_resources(path, KIND)


def _patches(resources: list[dict]):
    for resource in resources:
        for patch in (resource.get("spec") or {}).get("configPatches") or []:
            if isinstance(patch, dict):
                yield patch


def _wasm_filters(resources: list[dict]) -> list[ec.WasmFilter]:
    """The Wasm filters the file's HTTP_FILTER patches add, read as Envoy reads them (one reader for every
    lab: a TypedStruct, xds or udpa, is seen through). Each keeps its PluginConfig, the dict in the document."""
    found = []
    for patch in _patches(resources):
        if patch.get("applyTo") == "HTTP_FILTER":
            wasm = ec.wasm_filter((patch.get("patch") or {}).get("value") or {})
            if wasm is not None:
                found.append(wasm)
    return found


def _filter_patch(resources: list[dict]) -> list[ec.WasmFilter]:
    """The file's Wasm filters, or a failing verdict that says what the step asks for."""
    found = _wasm_filters(resources)
    if not found:
        fail(f"{FILE} has no HTTP_FILTER patch that adds a Wasm filter",
             expected=f"a configPatches entry with applyTo: HTTP_FILTER whose value's typed_config is {WASM_TYPE} "
                      "(or a TypedStruct whose type_url is)",
             seen=", ".join(str(p.get("applyTo")) for p in _patches(resources)) or "no configPatches",
             hint="the value is the same Wasm filter you wrote into envoy.yaml in lab 02, with code.remote instead of code.local")
    return found


def _headers(wasm: ec.WasmFilter) -> dict[str, str]:
    """The headers the filter adds: the JSON of the configuration Envoy hands it (a StringValue), as Envoy runs it."""
    headers = headers_in(wasm.plugin_config or "")
    if not headers:
        fail("the Wasm filter's configuration names no headers",
             expected='configuration: {"@type": type.googleapis.com/google.protobuf.StringValue, '
                      'value: \'{"headers": {"x-team": "blue"}}\'}',
             seen=str(wasm.plugin_config)[:200] if wasm.plugin_config is not None else "no configuration.value",
             hint="Envoy hands the StringValue's text to your filter, which reads it as JSON in OnPluginStart (lab 03)")
    return headers


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
    text, error = admin_answer(mesh.reach, lambda reach: httplib.request(reach.admin + path, timeout=ADMIN_TIMEOUT).text,
                               timeout=timeout, every=0.05, busy=(httplib.NoResponse,))
    if error is not None:
        fail(f"the sidecar's Envoy admin does not answer: {error}", hint="`workshop mesh status` shows the sidecar")
    return text


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


def _yours(filters: list[dict], shas: set[str]) -> int | None:
    """Where the inline Wasm filter whose module has one of these sha256s sits in the chain (an EnvoyFilter's
    filter is inline in the listener; WasmPlugins and TrafficExtensions come through ECDS instead), read as
    Envoy runs it, however the resource spelled it."""
    for i, f in enumerate(filters):
        wasm = ec.wasm_filter(f)
        if wasm is not None and wasm.sha256 in shas:
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


def _in_chain(mesh, shas: set[str], timeout: float = 15.0) -> tuple[list[dict], int]:
    """Wait until a filter with one of these modules is in the inbound chain; a failing verdict with Envoy's words if not."""
    began = time.monotonic()

    def held(refused) -> list[str]:
        """A refusal Envoy still holds after istiod's push has had time to land (~0.3 s): one of the file in force."""
        said = [details for details, config in refused if not shas or any(sha in config for sha in shas)]
        return said if time.monotonic() > began + 2.0 else []

    def look():
        filters, refused = _inbound(mesh)
        return filters, refused, _yours(filters, shas)

    filters, refused, at = waiting.until(look, lambda seen: seen[2] is not None or bool(held(seen[1])),
                                         timeout=timeout, every=0.2).seen
    if at is not None:
        return filters, at
    said = held(refused)
    if said:
        hint = ("INSERT_BEFORE: Envoy wants the router last in every chain" if "must be the last filter" in said[-1]
                else "Istio checks the patch's shape, Envoy checks its meaning: a misspelled field name is dropped "
                     "by istiod, and a field Envoy requires (sha256, timeout, runtime) is then missing")
        fail("the sidecar's Envoy refused the listener istiod built from your EnvoyFilter, and kept its last good one",
             seen=f"Envoy: {_gist(said[-1])}", hint=hint)
    if not shas:
        fail(f"the Wasm filter of {FILE} names no remote module with a sha256",
             expected="vm_config.code.remote: {http_uri: {uri, cluster, timeout}, sha256}",
             hint="this lab asks for a remote module, which Envoy fetches from the module server itself; "
                  "`sh serve.sh` writes its sha256")
    fail("your Wasm filter is not in the sidecar's inbound listener: the patch matched nothing",
         expected="match.context: SIDECAR_INBOUND (or ANY), and a match that finds the inbound chain's HTTP "
                  f"connection manager and a filter it has, such as {ROUTER}",
         seen="the inbound chain: " + " -> ".join(f.get("name", "?") for f in filters),
         hint="an EnvoyFilter whose match finds nothing (or whose workloadSelector picks another workload) is "
              "accepted and does nothing: `workshop mesh status` shows the chain it has to match")


def _modules(resources: list[dict]) -> set[str]:
    """The sha256s of the remote modules the file names: how its filter is known in the sidecar's chain."""
    shas = {w.sha256 for w in _filter_patch(resources) if w.sha256}
    if not shas:
        fail(f"the Wasm filter of {FILE} names no remote module with a sha256",
             expected="vm_config.code.remote: {http_uri: {uri, cluster, timeout}, sha256}",
             hint="this lab asks for a remote module, which Envoy fetches from the module server itself; "
                  "`sh serve.sh` writes its sha256")
    return shas


def _apply_and_see(mesh, path, resources):
    """Apply the file as the learner does; their filter in the inbound chain as Envoy runs it, and the headers of
    its configuration (Envoy's) on the traffic."""
    _filter_patch(resources)
    shas = {w.sha256 for w in _wasm_filters(resources) if w.sha256}  # how the filter is known in the chain
    _apply(mesh, path)
    filters, at = _in_chain(mesh, shas, timeout=15.0 if shas else 4.0)  # none: Envoy's refusal, if any, explains
    running = ec.wasm_filter(filters[at])
    headers = _headers(running)
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
        served = _fetched(mesh, running, resources)[1]
        if served and served.startswith(b"\0asm") and hashlib.sha256(served).hexdigest() != running.sha256:
            hint = (f"the module server serves another module (sha256 {hashlib.sha256(served).hexdigest()[:16]}…) than "
                    "the one your file names: `sh serve.sh` serves your build and writes its sha256; then apply again")
        else:
            hint = ("Envoy fetches a remote module when it builds the listener, and after a failed fetch it does not try "
                    "again until the listener changes: is the module server up (`workshop env up modules`), does a "
                    "CLUSTER patch add the cluster http_uri names? Then `kubectl delete -f envoyfilter.yaml` and apply it again")
        fail("the response through the sidecar lacks the headers of your filter's configuration",
             expected=_show(headers),
             seen=f"HTTP {response.status}" + (" (your filter failed closed)" if response.status == 503 else "")
                  + (f"; Envoy said: {why}" if why else ""), hint=hint)
    return running, response


def _cluster(mesh, name: str, resources: list[dict]) -> list[tuple[str, int]]:
    """The endpoints of the cluster Envoy would fetch through: one the file adds, or one the sidecar has."""
    for patch in _patches(resources):
        value = (patch.get("patch") or {}).get("value") or {}
        if patch.get("applyTo") == "CLUSTER" and value.get("name") == name:
            return ec.endpoints(value)
    dump = json.loads(_admin(mesh, "/config_dump?resource=dynamic_active_clusters"))
    dump = {"configs": [{"@type": "ClustersConfigDump", "dynamic_active_clusters": dump.get("configs") or []}]}
    return next((ec.endpoints(c) for c in ec.dumped_clusters(dump) if c.get("name") == name), [])


def _fetched(mesh, wasm: ec.WasmFilter, resources: list[dict]) -> tuple[str, bytes | None]:
    """What Envoy would get for the remote module: it sends GET with the uri's path and Host to the cluster
    http_uri names, whatever host the uri has (Envoy's RemoteDataFetcher). (where it asked, the body or None)."""
    endpoints = _cluster(mesh, wasm.cluster, resources)
    if not endpoints:
        return "", None
    parts = urlsplit(wasm.code)
    host, port = endpoints[0]
    where = f"http://{host}:{port}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
    try:
        answer = httplib.request(where, headers={"Host": parts.netloc or host}, timeout=10)
    except httplib.NoResponse:
        return where, None
    return where, answer.body if answer.status == 200 else b""


@pytest.mark.step("write", timeout=120)
def test_istio_accepts_the_envoyfilter(workspace, mesh):
    """the API server and istiod's webhook accept envoyfilter.yaml, which adds a Wasm filter (a dry run: nothing changes)"""
    answer = mesh.judge(workspace / FILE)
    if not answer.ok:
        fail(f"the API server refused {FILE}", seen=answer.output[-600:], hint=_explain(answer.output))
    _filter_patch(_documents(workspace / FILE))


@pytest.mark.step("write", timeout=120)
def test_the_module_server_serves_the_module_you_pinned(workspace, mesh, services):
    """the remote module, fetched as Envoy fetches it (through the cluster http_uri names), is a Wasm module whose
    sha256 is the one the file names"""
    resources = _documents(workspace / FILE)
    _modules(resources)
    services.ensure("modules")
    for wasm in _filter_patch(resources):
        where, body = _fetched(mesh, wasm, resources)
        if not where:
            fail(f"Envoy fetches the module through the cluster {wasm.cluster or '(none named)'}, which neither "
                 f"{FILE} adds nor the sidecar has",
                 expected="http_uri.cluster: the name of a cluster your CLUSTER patch adds (wasm-modules), whose "
                          "endpoint is the module server, 127.0.0.1:8077",
                 seen=f"uri: {wasm.code or '(none)'}, cluster: {wasm.cluster or '(none)'}",
                 hint="Envoy fetches a remote module only through a cluster it knows; the uri gives the path and the Host")
        if body is None:
            fail(f"nothing serves the module where Envoy would fetch it ({where})",
                 hint="`workshop env up modules` starts the module server; the cluster's endpoint is its address")
        if not body:
            fail(f"the module server has no module at {urlsplit(where).path} (asked as Envoy would: {where})",
                 hint="`sh serve.sh` copies plugin.wasm to the folder it serves (`workshop env status` shows which)")
        if not body.startswith(b"\0asm"):
            fail(f"{wasm.code} is not a WebAssembly module", seen=repr(body[:16]), hint="`sh serve.sh` serves your plugin.wasm")
        actual = hashlib.sha256(body).hexdigest()
        if wasm.sha256 != actual:
            local = workspace / "plugin.wasm"
            rebuilt = local.exists() and hashlib.sha256(local.read_bytes()).hexdigest() != actual
            fail("the sha256 in envoyfilter.yaml is not the served module's: Envoy would fetch it and refuse it",
                 expected=f"sha256: \"{actual}\"", seen=f"sha256: {wasm.sha256 or '(none)'}",
                 hint=("your plugin.wasm differs from the served one: run `sh serve.sh` again (it also writes the sha256)"
                       if rebuilt else "`sh serve.sh` writes the served module's sha256 into the file (`sha256sum plugin.wasm`)"))


@pytest.mark.step("apply", timeout=120)
def test_the_sidecar_runs_your_filter_before_the_router(workspace, mesh, services):
    """after `kubectl apply -f envoyfilter.yaml`, the sidecar's inbound chain holds your Wasm filter before the router,
    and responses carry its headers"""
    services.ensure("modules")
    _apply_and_see(mesh, workspace / FILE, _documents(workspace / FILE))


@pytest.mark.step("breaks", timeout=120)
def test_a_module_envoy_cannot_have_leaves_traffic_flowing(workspace, mesh, services, tmp_path):
    """with a module Envoy cannot verify (the file with another sha256), requests still pass, without the filter"""
    services.ensure("modules")
    running, response = _apply_and_see(mesh, workspace / FILE, _documents(workspace / FILE))
    headers = _headers(running)
    baseline = _count(response, headers)
    documents = mesh.stored(workspace / FILE)  # the file's resources as Istio reads them
    if not documents:
        fail(f"the API server holds nothing of {FILE} after `kubectl apply`", hint="`kubectl get envoyfilters -A`")
    wrong = secrets.token_hex(32)  # a module nobody serves: Envoy fetches the uri and refuses what it gets
    for wasm in _wasm_filters([d for d in documents if d.get("kind") == KIND]):
        if wasm.sha256 == running.sha256 and wasm.config is not None:
            wasm.config["vm_config"]["code"]["remote"]["sha256"] = wrong
    try:
        _apply(mesh, write_stored(documents, tmp_path / FILE))
        _in_chain(mesh, {wrong})
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
    running, response = _apply_and_see(mesh, workspace / FILE, _documents(workspace / FILE))
    headers, shas = _headers(running), {running.sha256}
    baseline = _count(response, headers)
    before = mesh.uptime()
    mesh.delete(workspace / FILE)
    response = mesh.until(lambda r: r.status == 200 and _count(r, headers) < baseline
                          and _yours(_inbound_filters(mesh), shas) is None)
    still = _yours(_inbound_filters(mesh), shas) is not None
    if response.status != 200 or _count(response, headers) >= baseline or still:
        fail("after the delete, the sidecar still runs your filter", expected="HTTP 200 without your filter's headers",
             seen=f"HTTP {response.status}; " + _show({k: ", ".join(response.header_values(k)) or "(none)" for k in headers})
                  + ("; your filter is still in the inbound chain" if still else ""))
    if mesh.uptime() < before:
        fail("Envoy was restarted by the delete", expected="the same Envoy, its inbound listener updated")
