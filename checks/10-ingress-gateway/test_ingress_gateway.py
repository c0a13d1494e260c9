"""Lab 10: the mesh's ingress gateway. Your module on it (selector, namespace), a Lua extension for the
whole mesh (the root namespace), `match` that keeps a module to the workloads' inbound traffic, and the
counters that say a module failed to load. Judged by Istio itself: the API server's dry run, what the
gateway's and the sidecar's Envoys run (ECDS filters, listener chains), live traffic through both, the
agent's counters and istiod's."""


import pytest

from workshop.checking import fail
from workshop.checking.mesh import explain_refusal, plugin_headers, read_resource
from workshop.checking.mesh_status import ECDS_PREFIX
from workshop.core import waiting

KIND = "TrafficExtension"
GATEWAY_FILE, MESH_WIDE_FILE, MATCH_FILE = "gateway.yaml", "mesh-wide.yaml", "inbound-only.yaml"
UNFETCHABLE_FILE, REFUSED_FILE = "unfetchable.yaml", "refused.yaml"
HOPS = "x-hops"  # one value per proxy that runs mesh-wide.yaml's Lua
FETCHES = "istio_agent_wasm_remote_fetch_count"
REJECTS = "pilot_total_xds_rejects"


def _filter_name(resource):
    meta = resource["metadata"]
    return f"{ECDS_PREFIX}{meta.get('namespace') or 'default'}.{meta['name']}"


def _where(resource):
    meta = resource["metadata"]
    return meta.get("namespace") or "default", meta["name"]


def _show(headers):
    return ", ".join(f"{k}: {v}" for k, v in headers.items()) or "no headers"


def _judged(mesh, path):
    answer = mesh.judge(path)
    if not answer.ok:
        hint = explain_refusal(answer.output)
        if "wasm.url" in answer.output and "at least 1 chars" in answer.output:
            hint = "wasm.url is the image to load: oci://127.0.0.1:5000/wasm-workshop/filter:v2 (or, for " \
                   "unfetchable.yaml, a tag never pushed)"
        fail(f"the API server refused {path.name}", seen=answer.output[-600:], hint=hint)


def _wasm_resource(workspace, name):
    resource = read_resource(workspace / name, KIND)
    if not isinstance((resource.get("spec") or {}).get("wasm"), dict):
        fail(f"{name} has no wasm block", expected="spec.wasm: {url, pluginConfig, ...}")
    return resource


def _count(response, header):
    return len(response.header_values(header))


def _chains(mesh, gateway):
    return gateway.chain(), mesh.view().chain


@pytest.mark.step("gateway", timeout=150)
def test_the_gateway_runs_your_module(workspace, mesh, gateway, services):
    """gateway.yaml: accepted, the gateway's Envoy runs the module through ECDS, and responses through the
    gateway carry its headers"""
    services.ensure("registry")
    path = workspace / GATEWAY_FILE
    resource = _wasm_resource(workspace, GATEWAY_FILE)
    _judged(mesh, path)
    mesh.apply(path)
    namespace, name = _where(resource)
    became = gateway.in_force(KIND, name, namespace)
    if became is None:
        gateway.explain_refused_filter(f"the gateway's Envoy could not start the filter of {GATEWAY_FILE} with its pluginConfig",
                                       namespace, name)
    if became is None or became.kind != "wasm":
        on_sidecar = mesh.view().filter_for(KIND, name, namespace)
        fail("the gateway's Envoy does not run the module of gateway.yaml",
             expected=f"{_filter_name(resource)} among the gateway's ECDS filters, running your module",
             seen=(f"{became.kind} in its place (the agent could not load the image)" if became else
                   "no filter for it on the gateway" + ("; the sidecar has it" if on_sidecar else "")),
             hint="istiod offers a proxy the extensions of its own namespace and of the root namespace only: "
                  "namespace: istio-system, and selector: {matchLabels: {istio: ingressgateway}}"
             if became is None else "push version 2 and run `sh pin.sh gateway.yaml`")
    headers = plugin_headers(resource)
    response = gateway.until(lambda r: r.status == 200 and all(v in r.header_values(k) for k, v in headers.items()))
    missing = {k: v for k, v in headers.items() if v not in response.header_values(k)}
    if response.status != 200 or missing or not headers:
        gateway.explain_refused_filter(f"the gateway's Envoy could not start the filter of {GATEWAY_FILE} with its pluginConfig",
                                       namespace, name)
        fail("the responses through the gateway lack the headers of gateway.yaml's pluginConfig",
             expected=_show(headers) if headers else "pluginConfig: {headers: {x-edge: ingress}}",
             seen=f"HTTP {response.status}; " + _show({k: response.headers.get(k, "(none)") for k in missing}))


@pytest.mark.step("gateway", timeout=150)
def test_the_selector_keeps_it_off_the_sidecar(workspace, mesh, gateway, services):
    """gateway.yaml picks the gateway only: the workload's sidecar neither runs the module nor adds its headers"""
    services.ensure("registry")
    resource = _wasm_resource(workspace, GATEWAY_FILE)
    _judged(mesh, workspace / GATEWAY_FILE)
    mesh.apply(workspace / GATEWAY_FILE)
    namespace, name = _where(resource)
    if gateway.in_force(KIND, name, namespace) is None:
        fail("the gateway's Envoy has no filter for gateway.yaml",
             hint="namespace: istio-system and selector: {matchLabels: {istio: ingressgateway}}")
    # the sidecar's inbound chain, not its ECDS filters: Envoy keeps the last configuration of a filter that no
    # listener names any more (an earlier version of the file that did select the sidecar)
    headers = plugin_headers(resource)
    def look():
        on_sidecar = _filter_name(resource) in mesh.view().chain
        direct = mesh.get_through()
        return on_sidecar, {k: v for k, v in headers.items() if v in direct.header_values(k)}

    # the same push may reach the sidecar a moment later
    on_sidecar, added = waiting.until(look, lambda seen: not (seen[0] or seen[1]), timeout=mesh.deadline.left(5),
                                      every=0.3).seen
    if on_sidecar or added:
        fail("the workload's sidecar runs gateway.yaml's module too", expected="the gateway only",
             seen=f"{_filter_name(resource)} in its inbound chain" if on_sidecar else f"the sidecar's responses carry {_show(added)}",
             hint="the selector picks proxies by label: istio: ingressgateway is the gateway's, app: httpbin the workload's")


@pytest.mark.step("mesh-wide", timeout=150)
def test_a_root_namespace_extension_reaches_every_proxy(workspace, mesh, gateway):
    """mesh-wide.yaml (in the root namespace, no selector): the Lua runs in the sidecar's inbound chain and in the
    gateway's listener, so a response through the gateway carries one x-hops more than one straight through the sidecar"""
    path = workspace / MESH_WIDE_FILE
    resource = read_resource(path, KIND)
    code = str(((resource.get("spec") or {}).get("lua") or {}).get("inlineCode") or "").strip()
    if not code:
        fail(f"{MESH_WIDE_FILE} has no Lua code", expected="spec.lua.inlineCode")
    _judged(mesh, path)
    mesh.apply(path)
    name = _filter_name(resource)
    waited = waiting.until(lambda: (gateway.inline_code(name), mesh.view()),
                           lambda seen: (seen[0] or "").strip() == code and name in seen[1].chain,
                           timeout=mesh.deadline.left(30), every=0.3)
    if not waited.ready:
        on_gateway, view = waited.seen
        on_sidecar = name in view.chain
        refused = gateway.refused() or view.refused
        fail("the Lua of mesh-wide.yaml does not run in every proxy", expected=f"{name} in the gateway and in the sidecar",
             seen=f"gateway: {'yes' if on_gateway else 'no'}; sidecar: {'yes' if on_sidecar else 'no'}"
                  + (f"; Envoy refused: {refused[-1][-300:]}" if refused else ""),
             hint="the root namespace (istio-system) and no selector: every proxy of the mesh")
    through = gateway.until(lambda r: _count(r, HOPS) == _count(mesh.get_through(), HOPS) + 1)
    direct = mesh.get_through()
    if _count(through, HOPS) != _count(direct, HOPS) + 1:
        fail(f"a response through the gateway should carry one {HOPS} more than one straight through the sidecar",
             expected=f"{_count(direct, HOPS) + 1} through the gateway", seen=f"{_count(through, HOPS)} through the gateway, "
             f"{_count(direct, HOPS)} through the sidecar", hint="the Lua adds one x-hops value each time it runs")


@pytest.mark.step("match", timeout=150)
def test_match_keeps_the_module_to_the_workloads_inbound_traffic(workspace, mesh, gateway, services):
    """inbound-only.yaml: the module runs in the sidecar's inbound chain and not on the gateway, so its header
    comes once through the gateway"""
    services.ensure("registry")
    path = workspace / MATCH_FILE
    resource = _wasm_resource(workspace, MATCH_FILE)
    _judged(mesh, path)
    mesh.apply(path)
    namespace, name = _where(resource)
    became = mesh.in_force(KIND, name, namespace)
    if became is None:
        mesh.explain_refused_filter(f"the sidecar's Envoy could not start the filter of {MATCH_FILE} with its pluginConfig",
                                      namespace, name)
    if became is None or became.kind != "wasm" or _filter_name(resource) not in mesh.view().chain:
        fail("the sidecar does not run the module of inbound-only.yaml in its inbound chain",
             seen=(became.kind if became else "no filter for it"),
             hint="in the root namespace with no selector it reaches every workload; mode: SERVER is a sidecar's "
                  "inbound side (CLIENT would leave it out)")
    headers = plugin_headers(resource)
    header, value = next(iter(headers.items()), ("x-served-by", "workload"))
    through = gateway.until(lambda r: r.header_values(header).count(value) == 1 and
                            _filter_name(resource) not in gateway.chain())
    chain = gateway.chain()
    if _filter_name(resource) in chain or through.header_values(header).count(value) != 1:
        fail("the gateway runs the module of inbound-only.yaml too", expected=f"{header}: {value} once through the gateway "
             "(the sidecar's), and no such filter in the gateway's listener",
             seen=f"{through.header_values(header).count(value)} times; gateway's chain: " + " -> ".join(chain),
             hint="match: [{mode: SERVER}]: istiod counts every gateway listener as CLIENT")


@pytest.mark.step("metrics", timeout=150)
def test_the_agent_counts_a_module_it_could_not_fetch(workspace, mesh, gateway, services):
    """unfetchable.yaml: the gateway's agent cannot fetch the image, puts an allow-all filter in its place (traffic
    flows), and its istio_agent_wasm_remote_fetch_count for manifest failures rises"""
    services.ensure("registry")
    path = workspace / UNFETCHABLE_FILE
    resource = _wasm_resource(workspace, UNFETCHABLE_FILE)
    _judged(mesh, path)
    mesh.delete(path)  # the agent fetches when istiod pushes a change: a fresh apply is one
    before = gateway.agent_metric(FETCHES, result="manifest_failure")
    try:
        mesh.apply(path)
        namespace, name = _where(resource)
        became = gateway.in_force(KIND, name, namespace, want="allow-all")
        rose = gateway.agent_metric(FETCHES, result="manifest_failure") - before
        if became is None or became.kind != "allow-all":
            fail("the gateway does not hold an allow-all filter in place of unfetchable.yaml's module",
                 seen=f"{became.kind} in its place" if became else "no filter for it on the gateway",
                 hint="selector: {matchLabels: {istio: ingressgateway}}, a url whose tag was never pushed, "
                      "and failStrategy: FAIL_OPEN")
        if rose < 1:
            fail("the gateway's agent did not count a failed fetch", expected=f'{FETCHES}{{result="manifest_failure"}} to rise',
                 seen=f"it rose by {rose:g}", hint="the url's registry must answer (127.0.0.1:5000) and the tag be missing")
        response = gateway.get()
        if response.status != 200:
            fail("traffic through the gateway stopped", expected="HTTP 200 (FAIL_OPEN)", seen=f"HTTP {response.status}")
    finally:
        mesh.delete(path)


@pytest.mark.step("metrics", timeout=150)
def test_istiod_counts_the_update_envoy_refused(workspace, mesh, gateway, services):
    """refused.yaml: the agent fetches the module, the gateway's Envoy refuses the filter (it will not start with
    that configuration) and istiod's pilot_total_xds_rejects{type="ecds"} rises; once deleted, the gateway serves again"""
    services.ensure("registry")
    path = workspace / REFUSED_FILE
    resource = _wasm_resource(workspace, REFUSED_FILE)
    _judged(mesh, path)
    mesh.delete(path)
    gateway.get()  # the gateway is up before the count is read
    before = gateway.istiod_metric(REJECTS, type="ecds")
    try:
        mesh.apply(path)
        rose = waiting.until(lambda: gateway.istiod_metric(REJECTS, type="ecds") - before, lambda rose: rose >= 1,
                             timeout=mesh.deadline.left(30), every=0.3).seen or 0.0
        status = gateway.get().status if rose >= 1 else 0
        if rose < 1:
            namespace, name = _where(resource)
            became = gateway.in_force(KIND, name, namespace, timeout=1)
            on_sidecar = mesh.view().filter_for(KIND, name, namespace)
            fail("istiod counted no rejected extension update", expected=f'{REJECTS}{{type="ecds"}} to rise',
                 seen=(f"the gateway runs it ({became.kind})" if became else "no filter for it on the gateway")
                      + ("; the sidecar runs it" if on_sidecar else ""),
                 hint="selector: {matchLabels: {istio: ingressgateway}}, and a pluginConfig your filter will not start "
                      "with: {headers: {}}")
    finally:
        mesh.delete(path)
    response = gateway.until(lambda r: r.status == 200)
    if response.status != 200:
        fail("the gateway does not serve again after refused.yaml was deleted",
             expected="HTTP 200", seen=f"HTTP {response.status} (while it was applied: HTTP {status})",
             hint="`workshop env logs ingress` shows what Envoy says")
