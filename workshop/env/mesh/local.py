"""The local mesh: for one workload, what istiod and the istio-agent do with WasmPlugins.

State (``<state>/mesh/resources.json``, written atomically, private to the user) holds what was
applied: WasmPlugins with the module each one got, and pull Secrets. Applying reconciles the
workload's sidecar: the plugins that select it, in phase and priority order, each in a filter slot.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from workshop.core.atomic import write_atomic
from workshop.env import envoy as envoylib
from workshop.env.mesh import images, sidecar
from workshop.env.mesh.resources import MeshError, PullSecret, WasmPlugin, load_file
from workshop.env.mesh.sidecar import ALLOW_ALL, DENY_ALL, SLOTS, Sidecar

RELOAD_TIMEOUT = 30.0  # Envoy compiles a new module on its main thread, where its admin also answers
FAILURE_POLICY = {"FAIL_CLOSE": "FAIL_CLOSED", "FAIL_OPEN": "FAIL_OPEN", "FAIL_RELOAD": "FAIL_RELOAD"}


@dataclass(frozen=True)
class Workload:
    """A workload of the local mesh: go-httpbin, with the labels its pods would have."""

    name: str = "httpbin"
    namespace: str = "default"
    labels: tuple[tuple[str, str], ...] = (("app", "httpbin"), ("version", "v1"))

    def selected_by(self, plugin: WasmPlugin) -> bool:
        if plugin.namespace not in (self.namespace, "istio-system"):  # istio-system: the root namespace
            return False
        spec = plugin.spec
        refs = ([spec["targetRef"]] if spec.get("targetRef") else []) + list(spec.get("targetRefs") or [])
        if refs:
            return any(r.get("kind") == "Service" and r.get("name") == self.name and not r.get("group") for r in refs)
        match = (spec.get("selector") or {}).get("matchLabels") or {}
        return all((k, v) in self.labels for k, v in match.items())

    def describe(self) -> str:
        return f"{self.namespace}/{self.name} (labels {', '.join(f'{k}={v}' for k, v in self.labels)})"


WORKLOAD = Workload()


@dataclass
class Outcome:
    """What applying (or deleting) one resource did; ``problem`` set means it is not in force as written."""

    kind: str
    name: str
    action: str  # created, configured, unchanged, deleted
    detail: str = ""
    problem: str = ""
    hint: str = ""


@dataclass
class PluginState:
    plugin: WasmPlugin
    module: dict | None = None  # images.Module fields, once pulled
    problem: str = ""  # why its image could not be had (then the slot holds allow-all or deny-all)
    hint: str = ""
    slot: int | None = None
    generation: int = 1

    def to_dict(self) -> dict:
        return {"resource": self.plugin.to_dict(), "module": self.module, "problem": self.problem, "hint": self.hint,
                "slot": self.slot, "generation": self.generation}

    @classmethod
    def from_dict(cls, data: dict) -> PluginState:
        meta = data["resource"]["metadata"]
        return cls(WasmPlugin(meta["name"], meta["namespace"], data["resource"]["spec"]), data.get("module"),
                   data.get("problem", ""), data.get("hint", ""), data.get("slot"), data.get("generation", 1))

    @property
    def in_force(self) -> str:
        """What the sidecar's slot does for this plugin, in a few words."""
        if self.slot is None:
            return "not on the workload (it selects no workload)"
        if self.module:
            return "the Wasm filter"
        return "deny-all (FAIL_CLOSE)" if self.plugin.fail_strategy == "FAIL_CLOSE" else "allow-all (FAIL_OPEN)"


@dataclass
class MeshState:
    plugins: dict[str, PluginState] = field(default_factory=dict)
    secrets: dict[str, PullSecret] = field(default_factory=dict)

    @staticmethod
    def path() -> Path:
        return sidecar.mesh_dir() / "resources.json"

    @classmethod
    def load(cls) -> MeshState:
        try:
            data = json.loads(cls.path().read_text())
        except (OSError, ValueError):
            return cls()
        return cls({k: PluginState.from_dict(v) for k, v in data.get("plugins", {}).items()},
                   {k: PullSecret(**v) for k, v in data.get("secrets", {}).items()})

    def save(self) -> None:
        data = {"plugins": {k: p.to_dict() for k, p in self.plugins.items()},
                "secrets": {k: {"name": s.name, "namespace": s.namespace, "auths": s.auths} for k, s in self.secrets.items()}}
        write_atomic(self.path(), json.dumps(data, indent=1))  # mkstemp makes it 0600: it may hold logins


def ensure_sidecar(progress=lambda _m: None) -> Sidecar:  # type: ignore[no-untyped-def]
    """The workload (go-httpbin) and its sidecar, started if needed; owned by this process when
    WORKSHOP_SERVICES=owned (tests, selftest), else they run until `workshop mesh down`."""
    from workshop.env import services

    detached = os.environ.get("WORKSHOP_SERVICES", "") != "owned"
    try:
        upstream = services.ensure(["httpbin"], detached=detached, progress=progress)["httpbin"]
    except services.ServiceError as exc:
        raise MeshError(f"the workload go-httpbin could not start: {exc}", hint="see `workshop env status`") from None
    running = sidecar.load()
    if running is not None and running.upstream_port != upstream.port:
        sidecar.stop(running)
        running = None
    if running is None:
        progress("starting the sidecar (Envoy) in front of httpbin")
        listen, admin = sidecar.ports_from_env()
        try:
            running = sidecar.start(listen, admin, upstream.port, detached=detached)
        except (sidecar.SidecarError, envoylib.EnvoyError) as exc:
            raise MeshError(str(exc), hint="`workshop mesh status` shows what runs") from None
        if not detached:
            services.install_cleanup()
            import atexit

            atexit.register(sidecar.stop, running)
    return running


def typed_config(state: PluginState) -> dict:
    """The ECDS filter for one plugin, as Istio's agent writes it (the module rewritten to a local file)."""
    if not state.module:
        return DENY_ALL if state.plugin.fail_strategy == "FAIL_CLOSE" else ALLOW_ALL
    spec = state.plugin.spec
    vm: dict = {"runtime": envoylib.V8, "code": {"local": {"filename": state.module["path"]}}}
    env = (spec.get("vmConfig") or {}).get("env") or []
    if env:
        vm["environment_variables"] = {
            "host_env_keys": [e["name"] for e in env if e.get("valueFrom") == "HOST"],
            "key_values": {e["name"]: e.get("value", "") for e in env if e.get("valueFrom") != "HOST"}}
    config: dict = {"name": state.plugin.key.replace("/", "."), "root_id": spec.get("pluginName", ""), "vm_config": vm,
                    "failure_policy": FAILURE_POLICY[state.plugin.fail_strategy]}
    if state.plugin.plugin_config is not None:
        config["configuration"] = {"@type": sidecar.STRING_VALUE, "value": state.plugin.plugin_config}
    return {"@type": envoylib.WASM_FILTER_TYPE, "config": config}


def applies_to_inbound(plugin: WasmPlugin) -> bool:
    """The local sidecar carries inbound (SERVER) HTTP traffic only; match and type say whether the plugin is there."""
    if plugin.spec.get("type") == "NETWORK":
        return False
    matches = plugin.spec.get("match") or []
    return not matches or any(m.get("mode", "UNDEFINED") in ("UNDEFINED", "SERVER", "CLIENT_AND_SERVER") for m in matches)


def place(state: MeshState, workload: Workload = WORKLOAD) -> list[PluginState]:
    """The plugins on the workload's sidecar, in filter chain order, with their slots set."""
    on = sorted((p for p in state.plugins.values() if workload.selected_by(p.plugin) and applies_to_inbound(p.plugin)),
                key=lambda p: p.plugin.order())
    for p in state.plugins.values():
        p.slot = None
    if len(on) > SLOTS:
        raise MeshError(f"{len(on)} WasmPlugins select {workload.name}; the local mesh holds at most {SLOTS}",
                        hint="delete some with `workshop mesh delete NAME`")
    for i, p in enumerate(on):
        p.slot = i
    return on


def pull_into(ps: PluginState, state: MeshState) -> None:
    """Pull the plugin's module (or record why not)."""
    ps.module, ps.problem, ps.hint = None, "", ""
    secret = None
    name = ps.plugin.spec.get("imagePullSecret")
    if name:
        secret = state.secrets.get(f"{ps.plugin.namespace}/{name}")
        if secret is None:
            ps.problem = f"the imagePullSecret {name} is not applied in namespace {ps.plugin.namespace}"
            ps.hint = "apply the Secret first: `workshop mesh apply -f secret.yaml`"
            return
    try:
        module = images.pull(ps.plugin, secret)
    except MeshError as exc:
        ps.problem, ps.hint = str(exc), exc.hint
        return
    ps.module = {"path": module.path, "sha256": module.sha256, "digest": module.digest, "form": module.form,
                 "pulled": module.pulled}


def configure(running: Sidecar, on: list[PluginState]) -> list[int]:
    """Write the slots that change and wait until Envoy has taken each; returns the slots Envoy refused."""
    wanted = {i: ALLOW_ALL for i in range(SLOTS)}
    wanted.update({p.slot: typed_config(p) for p in on if p.slot is not None})
    changed = [i for i in range(SLOTS) if sidecar.read_slot(i) != wanted[i]]
    if not changed:
        return []
    before = _slot_counters(running)
    version = str(time.time_ns())
    for i in changed:
        sidecar.write_slot(i, wanted[i], version)
    deadline = time.monotonic() + RELOAD_TIMEOUT
    refused: list[int] = []
    pending = set(changed)
    while pending and time.monotonic() < deadline:
        time.sleep(0.01)
        now = _slot_counters(running)
        for i in list(pending):
            reload, reject = now.get(i, (0, 0))
            if reload > before.get(i, (0, 0))[0]:
                pending.discard(i)
            elif reject > before.get(i, (0, 0))[1]:
                pending.discard(i)
                refused.append(i)
    if pending:
        raise MeshError(f"the sidecar did not take the new filters within {RELOAD_TIMEOUT:g} s",
                        hint="see its log: `workshop mesh status --log`")
    return refused


def _slot_counters(running: Sidecar) -> dict[int, tuple[int, int]]:
    from workshop.env import http

    deadline = time.monotonic() + RELOAD_TIMEOUT
    while True:  # the admin is silent while Envoy compiles a module: wait for it, within reason
        try:
            stats = running.envoy.stats()
            break
        except http.NoResponse:
            if time.monotonic() > deadline or not running.running():
                raise MeshError("the sidecar's admin does not answer", hint="`workshop mesh status --log`; "
                                "`workshop mesh down` then apply again restarts it") from None
    out = {}
    for i in range(SLOTS):
        base = f"extension_config_discovery.http_filter.{sidecar.slot_name(i)}."
        out[i] = (stats.get(base + "config_reload", 0), stats.get(base + "config_fail", 0) + stats.get(base + "update_rejected", 0))
    return out


def resources(path: Path) -> list[WasmPlugin | PullSecret]:
    return load_file(path)
