"""Step config: Envoy accepts envoy.yaml and, started on it, sends requests through the Wasm filter to httpbin.

Envoy is the judge: its own validation, then a real Envoy on the learner's file (its admin and
listeners moved to free ports, so it runs beside the learner's own), its config_dump (filters known
by their type), and live traffic through the listener the file puts on port 10000. Reading the file
ourselves only finds that listener and explains a failure.
"""

import json

import pytest
import yaml

from workshop.checking import envoy_config as ec
from workshop.checking import fail
from workshop.env.envoy import errors_in, find_envoy, on_free_ports, plain, wasm_crash

V8 = "envoy.wasm.runtime.v8"
HEADER, VALUE = "x-wasm-workshop", "hello"
ADMIN, LISTENER = 9901, 10000  # where the lab asks Envoy to listen


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


def _upstreams(config) -> str:
    """Where the file's routes send requests, in words: for a failure's explanation only."""
    said = []
    for listener in ec.listeners(config):
        for route in ec.routes(listener):
            cluster = (route.get("route") or {}).get("cluster")
            if cluster:
                endpoints = ec.cluster_endpoints(config, cluster)
                said.append(f"cluster {cluster} -> " + (", ".join(f"{h}:{p}" for h, p in endpoints) or "no endpoints"))
            elif route.get("direct_response"):
                said.append("a direct_response: Envoy answers itself")
    return "; ".join(said) or "no routes"


@pytest.mark.step("config", timeout=120)
def test_envoy_runs_your_configuration(workspace, go, run, envoy, services, http):
    """Envoy accepts envoy.yaml; its admin is on 9901 and its listener on 10000 sends requests through your Wasm filter (V8) to httpbin"""
    config = load(workspace)
    go.build_wasm(inspect=False)  # the configuration loads plugin.wasm: it must be there and current
    result = run([str(find_envoy()[0]), "--mode", "validate", "-c", "envoy.yaml", "--log-level", "error"], timeout=60)
    if not result.ok:
        errors = [plain(ln) for ln in result.output.splitlines() if "[critical]" in ln or "[error]" in ln]
        runtimes = {w.runtime for lst in ec.listeners(config) for w in map(ec.wasm_filter, ec.http_filters(lst)) if w}
        hint = "the first line names the field Envoy did not accept"
        if runtimes - {V8}:  # Envoy only says it could not load the code: name the likely cause
            hint = f"your Wasm filter asks for the runtime {', '.join(sorted(r or 'none' for r in runtimes - {V8}))}: " \
                   f"this Envoy runs Wasm on V8 ({V8})"
        fail("Envoy rejects envoy.yaml", seen="\n".join(errors[-4:]) or result.output.strip()[-400:], hint=hint)
    # Envoy accepted the file: the addresses in it are the ones it would bind (the lab fixes two of them)
    admin = ec.address((config.get("admin") or {}).get("address"))
    if not admin or admin[1] != ADMIN:
        fail(f"Envoy's admin should listen on 127.0.0.1:{ADMIN}", seen=f"admin on {admin[0]}:{admin[1]}" if admin else "no admin address",
             hint=f"admin: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {ADMIN}}}}}}}")
    moved, asked = on_free_ports(config)
    ours = [name for name, port in asked.items() if port == LISTENER]
    if not ours:
        fail(f"no listener on port {LISTENER}", expected=f"127.0.0.1:{LISTENER}",
             seen=", ".join(f"{name} on {port}" for name, port in asked.items()) or "no listener",
             hint=f"set the listener's socket_address port_value to {LISTENER}")
    services.ensure("httpbin")
    proxy, log = envoy.try_config(moved, cwd=workspace)
    if proxy is None:
        crash = wasm_crash(log)
        fail("Envoy validated envoy.yaml but would not run it" + (": your filter crashed" if crash else ""),
             seen=crash or errors_in(log), hint="read Envoy's error above: does plugin.wasm load?")
    dumped = {lst.get("name", ""): lst for lst in ec.dumped_listeners(proxy.config_dump())}
    wasm = [w for name in ours for w in map(ec.wasm_filter, ec.http_filters(dumped.get(name, {}))) if w]
    if not wasm:
        fail(f"Envoy runs your listener on {LISTENER} without a Wasm HTTP filter",
             expected="an HTTP filter whose typed_config is type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
             seen="a Wasm filter on another listener" if any(ec.wasm_filter(f) for lst in dumped.values()
                                                               for f in ec.http_filters(lst)) else "",
             hint=f"add the Wasm filter to the http_filters of the listener on {LISTENER}, before the router")
    if not any(w.runtime == V8 for w in wasm):
        fail("the Wasm filter does not run on V8", expected=V8, seen=", ".join(w.runtime or "no runtime" for w in wasm),
             hint=f"vm_config: {{runtime: {V8}, ...}}")
    bound = {st["name"]: st["local_address"]["socket_address"]["port_value"]
             for st in json.loads(proxy.admin("/listeners?format=json").text).get("listener_statuses") or []}
    seen = []
    for name in ours:
        response = http.get(f"http://127.0.0.1:{bound[name]}/headers")
        reached = response.status == 200 and '"headers"' in response.text
        got = response.header_values(HEADER)
        if reached and got == [VALUE]:
            return
        seen.append(f"{response.status}, " + ("httpbin answered" if reached else response.text.strip()[:80] or "no body")
                    + f", {HEADER}: {', '.join(got) or 'absent'}")
    crash = wasm_crash(proxy.log())
    if crash:
        fail("your filter crashed on a request", seen=crash, hint="a panic in the filter kills its VM: test it with `go test`")
    if not any("httpbin answered" in s for s in seen):
        fail(f"no request through your listener on {LISTENER} reached httpbin", expected="httpbin's JSON echo from 127.0.0.1:8080",
             seen="\n".join(seen) + f"\nyour routes: {_upstreams(config)}",
             hint="route / to a cluster whose endpoint is httpbin, 127.0.0.1:8080 (is it up? `workshop env status`)")
    fail("httpbin answered, but without your filter's header", expected=f"{HEADER}: {VALUE}", seen="\n".join(seen),
         hint="is plugin.wasm built from lab 01's code?")
