"""Step config: envoy.yaml routes to httpbin through the Wasm filter, and Envoy accepts it."""

import pytest
import yaml

from workshop.checking import fail
from workshop.env import envoy_config as ec
from workshop.env.envoy import find_envoy, plain

V8 = "envoy.wasm.runtime.v8"


def load(workspace):
    path = workspace / "envoy.yaml"
    if not path.exists():
        fail("there is no envoy.yaml in your lab folder", hint="restore the starter's with `workshop reset 02/config`")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"envoy.yaml:{mark.line + 1}:{mark.column + 1}" if mark else "envoy.yaml"
        fail(f"{where} is not valid YAML", seen=str(getattr(exc, "problem", exc)),
             hint="check the indentation (spaces only) and the brackets on that line")
    if not isinstance(config, dict):
        fail("envoy.yaml should hold a mapping (admin:, static_resources:)", seen=type(config).__name__)
    return config


@pytest.mark.step("config", timeout=120)
def test_envoy_yaml_routes_through_your_filter(workspace, go, run):
    """envoy.yaml: listener 10000, admin 9901, the Wasm filter on V8, routes to httpbin; Envoy validates it"""
    config = load(workspace)
    admin = ec.address((config.get("admin") or {}).get("address"))
    if not admin or admin[1] != 9901:
        fail("Envoy's admin should listen on 127.0.0.1:9901", seen=f"admin on {admin}" if admin else "no admin address",
             hint="admin: {address: {socket_address: {address: 127.0.0.1, port_value: 9901}}}")
    ports = [ec.address(lst.get("address")) for lst in ec.listeners(config)]
    main = next((lst for lst in ec.listeners(config) if (ec.address(lst.get("address")) or ("", 0))[1] == 10000), None)
    if main is None:
        fail("no listener on port 10000", expected="127.0.0.1:10000", seen=", ".join(f"{h}:{p}" for h, p in filter(None, ports)) or "no listener",
             hint="set the listener's socket_address port_value to 10000")
    filters = list(ec.http_filters(main))
    wasm = [w for w in map(ec.wasm_filter, filters) if w]
    if not wasm:
        fail("the listener has no Wasm HTTP filter", hint="add envoy.filters.http.wasm before the router (see the TODO)")
    if wasm[0].runtime != V8:
        fail("the Wasm filter does not use the V8 runtime", expected=V8, seen=wasm[0].runtime or "no runtime",
             hint="vm_config: {runtime: envoy.wasm.runtime.v8, ...}")
    names = [f.get("name", "") for f in filters]
    if not names or "router" not in names[-1]:
        fail("the router must be the last HTTP filter", seen=" -> ".join(names))
    clusters = [r.get("route", {}).get("cluster") for r in ec.routes(main) if r.get("route")]
    upstreams = [ep for c in clusters for ep in ec.cluster_endpoints(config, c)]
    if ("127.0.0.1", 8080) not in upstreams:
        fail("requests are not routed to httpbin at 127.0.0.1:8080",
             seen=f"routes to {clusters}, endpoints {upstreams}" if clusters else "no route to a cluster",
             hint="route: {cluster: httpbin}, and a cluster httpbin with the endpoint 127.0.0.1:8080")
    go.build_wasm(inspect=False)  # the configuration loads plugin.wasm: it must be there and current
    result = run([str(find_envoy()[0]), "--mode", "validate", "-c", "envoy.yaml", "--log-level", "error"], timeout=60)
    if not result.ok:
        errors = [plain(ln) for ln in result.output.splitlines() if "[critical]" in ln or "[error]" in ln]
        fail("Envoy rejects envoy.yaml", seen="\n".join(errors[-4:]) or result.output.strip()[-400:],
             hint="the first line names the field Envoy did not accept")
