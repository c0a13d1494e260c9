"""Lab 09: the filter as a TrafficExtension (Istio 1.30+), a Lua extension beside it, their order in the
chain, and a WasmPlugin next to a TrafficExtension. Judged by Istio itself: the API server's dry run
(schema, CEL, istiod's webhook), Istio's image fetcher, what the sidecar's Envoy runs (its ECDS filters,
its inbound chain, the listener updates it refused) and live traffic."""

import time

import pytest

from workshop.checking import envoy_config as ec
from workshop.checking import fail
from workshop.checking import mesh_status as status
from workshop.checking.mesh import agent_url, explain_refusal, headers_in, pinned, plugin_headers, read_resource, where
from workshop.checking.mesh_status import ECDS_PREFIX, TRANSLATED
from workshop.core import waiting
from workshop.env import wasm_images

KIND = "TrafficExtension"
WASM_FILE, LUA_FILE, PLUGIN_FILE = "trafficextension.yaml", "lua.yaml", "wasmplugin.yaml"
SAW = "x-lua-saw"  # the header the lab's Lua adds: the x-extension it saw on the way back
EXTENSION = "x-extension"


def _show(headers):
    return ", ".join(f"{k}: {v}" for k, v in headers.items()) or "no headers"


def _lacks(response, headers):
    """The headers missing from the response (other extensions may add values of the same names)."""
    return {k: v for k, v in headers.items() if v not in response.header_values(k)}


def _ecds_name(placed, translated=False):
    """The name istiod gives the extension's filter, from (namespace, name) as the API server holds it."""
    namespace, name = placed
    return f"{ECDS_PREFIX}{namespace}.{name}{TRANSLATED if translated else ''}"


def _placed(mesh, path, kind=KIND):
    """(namespace, name) of the file's resource as the API server holds it (any namespace where Istio applies it:
    the workload's, or the root namespace istio-system for the whole mesh)."""
    stored = mesh.stored(path, kind)
    if not stored:
        fail(f"the API server holds no {kind} of {path.name} after `kubectl apply`",
             hint=f"`kubectl get {kind.lower()}s -A`")
    return where(stored[0])


def _wasm_extension(workspace):
    resource = read_resource(workspace / WASM_FILE, KIND)
    spec = resource.get("spec") or {}
    if spec.get("lua") or not spec.get("wasm"):
        fail(f"{WASM_FILE} has no wasm block", expected="spec.wasm: {url, sha256, pluginConfig, failStrategy}",
             seen=", ".join(spec) or "an empty spec", hint=f"the Lua extension goes in {LUA_FILE}; this one holds your module")
    return resource


def _lua_extension(workspace):
    resource = read_resource(workspace / LUA_FILE, KIND)
    if not ((resource.get("spec") or {}).get("lua") or {}).get("inlineCode"):
        fail(f"{LUA_FILE} has no Lua code", expected="spec.lua.inlineCode: | with function envoy_on_response(response_handle)")
    return resource


def _judged(mesh, path):
    answer = mesh.judge(path)
    if not answer.ok:
        hint = explain_refusal(answer.output)
        if "exactly one of wasm or lua" in answer.output:
            hint = "a TrafficExtension holds a wasm block or a lua block, never both"
        elif "wasm.url" in answer.output and "at least 1 chars" in answer.output:
            hint = "wasm.url is the image of lab 08: oci://127.0.0.1:5000/wasm-workshop/filter:v2"
        elif "inlineCode" in answer.output and "at least 1 chars" in answer.output:
            hint = "inlineCode: | and, indented below it, your Lua: function envoy_on_response(response_handle) ... end"
        fail(f"the API server refused {path.name}", seen=answer.output[-600:], hint=hint)


def _refused_or(mesh, summary, **said):
    """A failing verdict; when Envoy holds a refused listener update, its words say why."""
    refused = mesh.view().refused
    if refused:
        fail("the sidecar's Envoy refused the listener update with your extensions, and runs the one before it",
             seen=f"Envoy: {refused[-1][-400:]}",
             hint="every extension of the inbound listener travels in one update: one that Envoy refuses (a Lua "
                  "syntax error, say) holds back all the others")
    fail(summary, **said)


def _lua_in_force(mesh, name) -> str | None:
    """The Lua code the sidecar's inbound listener runs for the filter ``name`` (None: no such filter)."""
    with mesh.reach() as reach:
        dump = status.listeners(reach)
    for entry in dump.get("configs") or []:
        for chain in (((entry.get("active_state") or {}).get("listener") or {}).get("filter_chains") or []):
            for f in chain.get("filters") or []:
                for http_filter in ec.typed(f.get("typed_config"))[1].get("http_filters") or []:
                    if http_filter.get("name") == name:
                        typed = ec.typed(http_filter.get("typed_config"))[1]
                        return str((typed.get("default_source_code") or {}).get("inline_string") or "")
    return None


def _lua_running(mesh, resource, placed, timeout=30.0):
    """Wait until the sidecar runs this file's Lua code; a failing verdict (with Envoy's words) if it does not."""
    name, code = _ecds_name(placed), str(resource["spec"]["lua"]["inlineCode"]).strip()
    began = time.monotonic()

    def settled(running) -> bool:
        # a refusal still held once istiod's push has had time to land (~0.3 s) is one of this update
        return (running is not None and running.strip() == code) or (time.monotonic() > began + 2 and bool(mesh.view().refused))

    running = waiting.until(lambda: _lua_in_force(mesh, name), settled, timeout=mesh.deadline.left(timeout), every=0.2).seen
    if running is not None and running.strip() == code:
        return
    _refused_or(mesh, "the sidecar does not run the Lua code of lua.yaml", expected=f"{name} with your code",
                seen="an older version of it" if running is not None else
                     "no such filter in the inbound chain: " + " -> ".join(mesh.view().chain),
                hint="a TrafficExtension reaches the workloads it selects (selector: {matchLabels: {app: httpbin}}, "
                     "or none: all) in its own namespace, the workload's (default), or in the whole mesh from "
                     "the root namespace istio-system")


def _running_wasm(mesh, path, resource, kind=KIND):
    """Apply ``path`` as the learner does; its Wasm filter in the sidecar, and its headers on the traffic."""
    mesh.apply(path)
    namespace, name = placed = _placed(mesh, path, kind)
    became = mesh.in_force(kind, name, namespace)
    if became is None or became.kind != "wasm":
        if became is None:
            mesh.explain_refused_filter(f"the sidecar's Envoy could not start the filter of {path.name} with its pluginConfig",
                                          namespace, name)
        errors = mesh.fetch_errors()
        _refused_or(mesh, f"the sidecar does not run the module of {path.name}",
                    seen="\n".join(errors[-2:]) or (f"{became.kind} in its place" if became else "nothing for it yet"),
                    hint="push the image, pin it (`sh pin.sh trafficextension.yaml`), and see `workshop mesh status`")
    headers = headers_in(became.config) or plugin_headers(resource)  # the configuration Envoy hands the module
    response = mesh.until(lambda r: r.status == 200 and not _lacks(r, headers))
    if response.status != 200 or _lacks(response, headers):
        mesh.explain_refused_filter(f"the sidecar's Envoy could not start the filter of {path.name} with its pluginConfig",
                                      namespace, name)
        fail(f"the responses through the sidecar lack the headers of {path.name}'s pluginConfig", expected=_show(headers),
             seen=f"HTTP {response.status}; " + _show({k: response.headers.get(k, "(none)") for k in _lacks(response, headers)}))
    return became, placed


@pytest.mark.step("write", timeout=120)
def test_istio_accepts_the_trafficextension(workspace, mesh):
    """the API server and istiod's webhook accept trafficextension.yaml, a wasm block with pluginConfig (a dry run)"""
    resource = _wasm_extension(workspace)
    _judged(mesh, workspace / WASM_FILE)
    if EXTENSION not in plugin_headers(resource):
        fail(f"wasm.pluginConfig does not name the header {EXTENSION}",
             expected=f"pluginConfig: {{headers: {{{EXTENSION}: trafficextension}}}}",
             seen=_show(plugin_headers(resource)), hint="the Lua extension of this lab reads that header")


@pytest.mark.step("write", timeout=120)
def test_the_agent_would_load_the_pinned_image(workspace, mesh, services):
    """Istio's own fetcher would load the image at wasm.url, pinned by wasm.sha256"""
    wasm = (_wasm_extension(workspace).get("spec") or {}).get("wasm") or {}
    url, field = str(wasm.get("url", "")), str(wasm.get("sha256") or "")
    sha = pinned(url, field)
    if not sha:
        fail("the image is not pinned: neither wasm.sha256 nor a digest in wasm.url names one module",
             expected="wasm.sha256: the image's manifest digest, or wasm.url: oci://HOST/REPO@sha256:DIGEST",
             hint=f"run `sh pin.sh {WASM_FILE}`: it writes the image's digest into sha256")
    services.ensure("registry")
    answer = mesh.image(agent_url(url), sha256=field, policy=str(wasm.get("imagePullPolicy") or "IfNotPresent"))
    if not answer.ok:
        message, hint = wasm_images.explain(answer, sha)
        fail(message, expected=f"{url}, an image the agent loads, with sha256 {sha[:16]}…",
             seen=f"Istio's fetcher: {answer.error}", hint=hint)


@pytest.mark.step("apply", timeout=120)
def test_the_sidecar_runs_the_trafficextension(workspace, mesh, services):
    """after `kubectl apply -f trafficextension.yaml`, the sidecar gets the module through ECDS under the
    TrafficExtension's own name, and responses carry its headers"""
    services.ensure("registry")
    resource = _wasm_extension(workspace)
    became, placed = _running_wasm(mesh, workspace / WASM_FILE, resource)
    if became.name != _ecds_name(placed):
        fail("the filter in the sidecar is not named after the TrafficExtension", expected=_ecds_name(placed),
             seen=became.name)


@pytest.mark.step("lua", timeout=120)
def test_the_lua_extension_runs_inline(workspace, mesh):
    """lua.yaml: accepted, inline in the sidecar's inbound listener (no ECDS, no module), and its header on every response"""
    resource = _lua_extension(workspace)
    _judged(mesh, workspace / LUA_FILE)
    mesh.apply(workspace / LUA_FILE)
    placed = _placed(mesh, workspace / LUA_FILE)
    name = _ecds_name(placed)
    _lua_running(mesh, resource, placed)
    if any(f.name == name for f in mesh.view().filters):
        fail("the Lua extension came through ECDS: it should be inline in the listener", seen=name)
    response = mesh.until(lambda r: SAW in r.headers)
    if SAW not in response.headers:
        fail(f"the responses do not carry the header {SAW}", expected=f"{SAW}: what your Lua saw of {EXTENSION}",
             seen=f"HTTP {response.status}, no {SAW}",
             hint="function envoy_on_response(response_handle) ... response_handle:headers():add(\"x-lua-saw\", ...) end")


@pytest.mark.step("order", timeout=150)
def test_the_lua_extension_sees_the_headers_of_the_wasm_filter(workspace, mesh, services):
    """with both applied, the Lua filter comes before add-headers in the chain, so on the way back it runs after it
    and sees its x-extension header"""
    services.ensure("registry")
    wasm, lua = _wasm_extension(workspace), _lua_extension(workspace)
    became, wasm_at = _running_wasm(mesh, workspace / WASM_FILE, wasm)
    mesh.apply(workspace / LUA_FILE)
    lua_at = _placed(mesh, workspace / LUA_FILE)
    _lua_running(mesh, lua, lua_at)
    chain = mesh.view().chain
    want = (headers_in(became.config) or plugin_headers(wasm)).get(EXTENSION, "")
    if chain.index(_ecds_name(lua_at)) > chain.index(_ecds_name(wasm_at)):
        response = mesh.get_through()
        fail("the Lua filter comes after the Wasm filter in the chain, so on the way back it runs first and sees nothing "
             "of the Wasm filter's headers", expected=f"{_ecds_name(lua_at)} before {_ecds_name(wasm_at)}",
             seen=" -> ".join(chain) + f"; {SAW}: {response.headers.get(SAW, '(none)')}",
             hint="an earlier phase for the Lua extension (AUTHN before AUTHZ before STATS), or in the same phase a "
                  "higher priority: higher runs first")
    response = mesh.until(lambda r: r.headers.get(SAW) == want)
    if response.headers.get(SAW) != want:
        fail(f"the Lua filter did not see the Wasm filter's {EXTENSION}", expected=f"{SAW}: {want}",
             seen=f"{SAW}: {response.headers.get(SAW, '(none)')}",
             hint=f"your Lua reads the response header {EXTENSION} in envoy_on_response and adds {SAW} with its value")


@pytest.mark.step("together", timeout=150)
def test_a_wasmplugin_and_a_trafficextension_side_by_side(workspace, mesh, services):
    """wasmplugin.yaml and trafficextension.yaml applied together: istiod translates the WasmPlugin into a
    TrafficExtension of its own name, both run, and the TrafficExtension comes first in the STATS phase"""
    services.ensure("registry")
    wasm = _wasm_extension(workspace)
    plugin = read_resource(workspace / PLUGIN_FILE, "WasmPlugin")
    plugin_became, plugin_at = _running_wasm(mesh, workspace / PLUGIN_FILE, plugin, kind="WasmPlugin")
    wasm_became, wasm_at = _running_wasm(mesh, workspace / WASM_FILE, wasm)
    chain = mesh.view().chain
    translated, own = _ecds_name(plugin_at, translated=True), _ecds_name(wasm_at)
    if translated not in chain or own not in chain:
        fail("the inbound chain does not hold both filters", expected=f"{own} and {translated}", seen=" -> ".join(chain))
    if chain.index(own) > chain.index(translated):
        fail("the WasmPlugin's filter runs before the TrafficExtension's", expected=f"{own} before {translated}",
             seen=" -> ".join(chain),
             hint="in one phase the higher priority runs first, and istiod sorts an extension with no priority after "
                  "every one that has one (the API's comments say it counts as 0; istiod's code, push_context.go's "
                  "sortByPriority, uses the lowest int32): give the TrafficExtension priority: 10, at the top of its spec")
    both = {**(headers_in(plugin_became.config) or plugin_headers(plugin)),
            **(headers_in(wasm_became.config) or plugin_headers(wasm))}
    response = mesh.until(lambda r: not _lacks(r, both))
    if _lacks(response, both):
        fail("the responses do not carry the headers of both", expected=_show(both),
             seen=_show({k: response.headers.get(k, "(none)") for k in _lacks(response, both)}))
