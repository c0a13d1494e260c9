"""Steps config and invalid: the filter's headers follow its plugin configuration in a real Envoy,
and a broken configuration makes Envoy refuse the plugin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workshop.checking import fail
from workshop.env import envoy as envoylib
from workshop.env.envoy import wasm_crash

DEFAULT = {"x-wasm-workshop": "hello"}
# Three filters, one listener each, in one Envoy and one shared Wasm VM (as Istio shares one VM
# between plugins of the same module): no configuration, then two different configurations.
LISTENERS = {
    "default": (None, DEFAULT),
    "blue": ({"headers": {"x-team": "blue", "x-wasm-workshop": "configured"}}, {"x-team": "blue", "x-wasm-workshop": "configured"}),
    "green": ({"headers": {"x-team": "green", "x-lab": "03"}}, {"x-team": "green", "x-lab": "03"}),
}
VM_ID = "wasm-workshop"
WATCHED = ("x-lab", "x-team", "x-wasm-workshop")
BROKEN = (('{"headers": {"x-team": "blue"', "is not valid JSON (it is cut short)"),
          ('{"headers": {}}', "names no headers"))


def _show(headers: dict[str, str]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(headers.items())) or "none of " + ", ".join(WATCHED)


def _values(headers: dict[str, str], name: str) -> list[str]:
    return headers[name].split(", ") if name in headers else []


def _three_listeners(wasm: Path) -> dict:
    config = None
    for name, (plugin_config, _) in LISTENERS.items():
        wasm_filter = envoylib.wasm_filter(name, wasm, json.dumps(plugin_config) if plugin_config else None)
        wasm_filter["typed_config"]["config"]["vm_config"]["vm_id"] = VM_ID
        one = envoylib.bootstrap([wasm_filter])
        listener = one["static_resources"]["listeners"][0]
        listener["name"] = name
        if config is None:
            config = one
        else:
            config["static_resources"]["listeners"].append(listener)
    assert config is not None
    return config


def _refused_plugin(log: str) -> str | None:
    """The plugin Envoy could not start, from a line like 'Plugin green failed to load'."""
    for line in log.splitlines():
        if "Plugin " in line and " failed to load" in line and "configured to fail" not in line:
            return line.split("Plugin ", 1)[1].split(" failed to load", 1)[0]
    return None


@pytest.mark.step("config", timeout=120)
def test_headers_follow_the_configuration(go, envoy, http):
    """in Envoy, each filter adds the headers of its own configuration"""
    module = go.build_wasm(inspect=False)
    proxy, log = envoy.try_config(_three_listeners(module.path))
    if proxy is None:
        crash = wasm_crash(log)
        if crash:
            fail("your filter crashed while Envoy configured it", seen=crash,
                 hint="a panic in OnPluginStart stops Envoy: test it with `go test` first")
        refused = _refused_plugin(log)
        if refused == "default":
            fail("your filter refused to start without a configuration",
                 expected="no configuration: the filter adds x-wasm-workshop: hello, as in lab 01",
                 seen=envoylib.last_lines("\n".join(envoylib.plain(ln) for ln in log.splitlines() if "[wasm]" in ln), 6),
                 hint="with no configuration GetPluginConfiguration returns no bytes or types.ErrorStatusNotFound: keep the default header then")
        if refused:
            fail(f"your filter refused a valid configuration: {json.dumps(LISTENERS[refused][0]) if refused in LISTENERS else refused}",
                 seen=envoylib.last_lines("\n".join(envoylib.plain(ln) for ln in log.splitlines() if "[wasm]" in ln), 6),
                 hint='the configuration is {"headers": {"name": "value", ...}}: json.Unmarshal it into the config struct')
        fail("Envoy would not start with your filter", seen=envoylib.last_lines(log, 10),
             hint="read Envoy's error above")
    ports = {st["name"]: st["local_address"]["socket_address"]["port_value"]
             for st in json.loads(proxy.admin("/listeners?format=json").text)["listener_statuses"]}
    seen: dict[str, dict[str, str]] = {}
    for name in LISTENERS:
        response = http.get(f"http://127.0.0.1:{ports[name]}/")
        if response.status >= 500:
            crash = wasm_crash(proxy.wait_for_log(" failed: "))
            fail(f"Envoy answered {response.status}" + (": your filter crashed" if crash else ""),
                 seen=crash or response.text.strip()[:200],
                 hint="a panic in the filter kills its VM: fix it and test with `go test` first")
        seen[name] = {h: ", ".join(response.header_values(h)) for h in WATCHED if response.header_values(h)}
    want = {name: expected for name, (_, expected) in LISTENERS.items()}
    if seen == want:
        return
    configs = "\n".join(f"{name}: {json.dumps(cfg) if cfg else 'no configuration'}" for name, (cfg, _) in LISTENERS.items())
    table = "\n".join(f"{name}: {_show(seen[name])}" for name in LISTENERS)
    if seen["blue"] == seen["green"] and seen["blue"] in (want["blue"], want["green"]):
        fail("two filters with different configurations added the same headers", expected=configs, seen=table,
             hint="Envoy runs all three plugins in one Wasm VM, so a package-level variable is shared between them: "
                  "keep the headers in your plugin context (one per configuration), not in a package-level variable")
    if all(s == DEFAULT for s in seen.values()):
        fail("your filter ignores its configuration: every filter added x-wasm-workshop: hello", expected=configs, seen=table,
             hint="in OnPluginStart, read proxywasm.GetPluginConfiguration(), json.Unmarshal it into a config "
                  "and keep its headers in your plugin context for each request")
    for name in ("blue", "green"):
        if "hello" in _values(seen[name], "x-wasm-workshop") and all(v in _values(seen[name], k) for k, v in want[name].items()):
            fail(f"the filter configured as {name} also added the default header", expected=configs, seen=table,
                 hint="add x-wasm-workshop: hello only when there is no configuration at all")
    if seen["default"] != DEFAULT:
        fail("without a configuration, the filter should still add x-wasm-workshop: hello", expected=configs, seen=table,
             hint="when GetPluginConfiguration gives no bytes (or types.ErrorStatusNotFound), keep lab 01's header")
    fail("the response headers do not follow the configuration", expected=configs, seen=table,
         hint="each key and value under \"headers\" becomes one response header, added in OnHttpResponseHeaders")


@pytest.mark.step("invalid", timeout=120)
def test_a_broken_configuration_stops_the_plugin(go, envoy, http):
    """Envoy refuses the plugin when its configuration is not valid JSON, or names no headers"""
    module = go.build_wasm(inspect=False)
    for broken, what in BROKEN:
        _refuses(envoy, http, module.path, broken, what)


def _refuses(envoy, http, wasm: Path, broken: str, what: str) -> None:  # type: ignore[no-untyped-def]
    config = envoylib.bootstrap([envoylib.wasm_filter("broken", wasm, broken)])
    proxy, log = envoy.try_config(config)
    if proxy is not None:
        response = http.get(proxy.url + "/")
        got = {h: ", ".join(response.header_values(h)) for h in WATCHED if response.header_values(h)}
        fail(f"Envoy started and served requests with a broken configuration (one that {what})",
             expected=f"the configuration {broken} makes Envoy refuse the plugin",
             seen=f"Envoy answered {response.status} with {_show(got)}",
             hint="when the configuration cannot be decoded, or names no headers, log why and return "
                  "types.OnPluginStartStatusFailed from OnPluginStart")
    crash = wasm_crash(log)
    if crash:
        fail(f"your filter panicked on a broken configuration (one that {what}) instead of refusing it", seen=crash,
             hint="do not panic: log why with proxywasm.LogCriticalf and return types.OnPluginStartStatusFailed")
    if "Failed to configure" not in log and _refused_plugin(log) is None:
        fail("Envoy would not start, but not because your plugin refused its configuration",
             seen=envoylib.last_lines("\n".join(envoylib.plain(ln) for ln in log.splitlines()
                                                 if "[critical]" in ln or "[error]" in ln) or log, 8),
             hint="does OnPluginStart loop forever? read Envoy's error above")
    reasons = [envoylib.plain(ln).split("wasm log ", 1)[-1] for ln in log.splitlines()
               if "wasm log" in ln and any(f"[{lvl}][wasm]" in ln for lvl in ("warning", "error", "critical"))]
    if not reasons:
        fail(f"your plugin refused the broken configuration (one that {what}), but did not log why",
             expected="a warning, error or critical line from your filter in Envoy's log",
             seen=envoylib.last_lines("\n".join(envoylib.plain(ln) for ln in log.splitlines() if "[wasm]" in ln), 6),
             hint="before returning types.OnPluginStartStatusFailed, log the error with proxywasm.LogCriticalf")
