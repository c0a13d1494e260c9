"""Where WasmPlugins go: the local mesh (the default) or a real cluster with Istio (see cluster.py).

Both answer the same four questions (apply, get, delete, status), so the CLI, the TUI and the
checks do not care which one is behind them.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from workshop.env.mesh import local, sidecar
from workshop.env.mesh.local import WORKLOAD, MeshState, Outcome, PluginState
from workshop.env.mesh.resources import MeshError, PullSecret, WasmPlugin, load_file

Progress = Callable[[str], None]


class Target(Protocol):
    name: str

    def apply(self, path: Path, progress: Progress = ...) -> list[Outcome]: ...
    def get(self) -> list[dict]: ...
    def delete(self, name: str, namespace: str = "default") -> list[Outcome]: ...
    def status(self) -> dict: ...


@contextmanager
def _locked() -> Iterator[None]:
    """One apply or delete at a time: each reads, changes and writes the mesh state."""
    path = sidecar.mesh_dir() / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class LocalMesh:
    """The embedded default: one workload (go-httpbin) and its real Envoy sidecar on 127.0.0.1."""

    name = "local"

    def apply(self, path: Path, progress: Progress = lambda _m: None) -> list[Outcome]:
        found = load_file(path)  # all checked before anything changes, like kubectl apply
        with _locked():
            running = local.ensure_sidecar(progress)
            state = MeshState.load()
            outcomes: list[tuple[Outcome, PluginState | None]] = []
            for res in found:
                if isinstance(res, PullSecret):
                    outcomes.append((self._apply_secret(state, res), None))
                else:
                    outcomes.append(self._apply_plugin(state, res, progress))
            self._reconcile(state, running)
        return [self._finish(o, ps) for o, ps in outcomes]

    def _apply_secret(self, state: MeshState, secret: PullSecret) -> Outcome:
        old = state.secrets.get(secret.key)
        state.secrets[secret.key] = secret
        action = "created" if old is None else "unchanged" if old.auths == secret.auths else "configured"
        if action != "unchanged":  # plugins that waited for this login try again, as the agent retries
            for ps in state.plugins.values():
                if ps.plugin.spec.get("imagePullSecret") == secret.name and ps.plugin.namespace == secret.namespace:
                    local.pull_into(ps, state)
        return Outcome("Secret", secret.name, action, detail="image pull login stored (never shown)")

    def _apply_plugin(self, state: MeshState, plugin: WasmPlugin, progress: Progress) -> tuple[Outcome, PluginState]:
        old = state.plugins.get(plugin.key)
        if old is not None and old.plugin.spec == plugin.spec and not old.problem:
            return Outcome("WasmPlugin", plugin.name, "unchanged"), old
        ps = PluginState(plugin, generation=(old.generation + 1) if old else 1)
        state.plugins[plugin.key] = ps
        if WORKLOAD.selected_by(plugin) and local.applies_to_inbound(plugin):
            progress(f"pulling {plugin.url} ({plugin.pull_policy})")
            local.pull_into(ps, state)
        return Outcome("WasmPlugin", plugin.name, "created" if old is None else "configured"), ps

    def _reconcile(self, state: MeshState, running: sidecar.Sidecar) -> None:
        on = local.place(state)
        for ps in on:
            if ps.module is None and not ps.problem:  # newly selected, never pulled
                local.pull_into(ps, state)
        refused = local.configure(running, on)
        for ps in on:
            if ps.slot in refused:
                ps.problem = "Envoy refused the filter: " + _envoy_said(running)
                ps.hint = "is the module a Proxy-Wasm filter, and does pluginConfig suit it? (the slot kept its previous filter)"
        state.save()

    def _finish(self, outcome: Outcome, ps: PluginState | None) -> Outcome:
        if ps is None:
            return outcome
        if ps.slot is None:
            outcome.problem = f"it selects no workload: the local mesh has {WORKLOAD.describe()}"
            outcome.hint = "select it with selector.matchLabels app: httpbin (namespace default)"
            if ps.plugin.spec.get("type") == "NETWORK":
                outcome.problem = "it is a NETWORK plugin, which the local mesh does not model (only HTTP plugins)"
                outcome.hint = "drop type, or set type: HTTP"
            elif not local.applies_to_inbound(ps.plugin):
                outcome.problem = "its match names only CLIENT (outbound) traffic, which the local sidecar does not carry"
                outcome.hint = "drop match, or use mode SERVER"
            return outcome
        if ps.problem:
            outcome.problem, outcome.hint = ps.problem, ps.hint
            outcome.detail = f"in force: {ps.in_force}"
            return outcome
        m = ps.module or {}
        got = "pulled" if m.get("pulled") else "from the cache (IfNotPresent)"
        outcome.detail = f"on {WORKLOAD.name}'s sidecar, filter {ps.slot + 1 if ps.slot is not None else '-'}; " \
                         f"{m.get('form')} sha256:{m.get('digest', '')[:12]}… {got}"
        return outcome

    def delete(self, name: str, namespace: str = "default") -> list[Outcome]:
        with _locked():
            state = MeshState.load()
            key = f"{namespace}/{name}"
            if key in state.plugins:
                del state.plugins[key]
                kind = "WasmPlugin"
            elif key in state.secrets:
                del state.secrets[key]
                kind = "Secret"
            else:
                names = ", ".join(sorted(k.split("/", 1)[1] for k in state.plugins)) or "none"
                raise MeshError(f"there is no WasmPlugin or Secret {name} in namespace {namespace} (WasmPlugins: {names})",
                                hint="`workshop mesh get` lists what is applied")
            running = sidecar.load()
            if running is not None:
                self._reconcile(state, running)
            else:
                local.place(state)
                state.save()
        return [Outcome(kind, name, "deleted")]

    def get(self) -> list[dict]:
        state = MeshState.load()
        out = []
        for ps in sorted(state.plugins.values(), key=lambda p: p.plugin.order()):
            out.append({"kind": "WasmPlugin", "name": ps.plugin.name, "namespace": ps.plugin.namespace,
                        "url": ps.plugin.url, "phase": ps.plugin.phase, "priority": ps.plugin.priority,
                        "failStrategy": ps.plugin.fail_strategy, "imagePullPolicy": ps.plugin.pull_policy,
                        "in_force": ps.in_force, "problem": ps.problem, "spec": ps.plugin.spec})
        for s in state.secrets.values():
            out.append({"kind": "Secret", "name": s.name, "namespace": s.namespace, "registries": sorted(s.auths)})
        return out

    def status(self) -> dict:
        running = sidecar.load()
        state = MeshState.load()
        on = sorted((p for p in state.plugins.values() if p.slot is not None), key=lambda p: p.slot or 0)
        side: dict = {"running": running is not None}
        if running is not None:
            side.update(pid=running.pid, listener=running.url, admin=f"http://127.0.0.1:{running.admin_port}",
                        upstream=f"http://127.0.0.1:{running.upstream_port}", filter_updates=running.reloads(),
                        up_for=round(time.time() - running.started, 1), log=str(Path(running.workdir) / "envoy.log"))
        plugins = [{"name": p.plugin.name, "namespace": p.plugin.namespace, "filter": (p.slot or 0) + 1,
                    "phase": p.plugin.phase, "priority": p.plugin.priority, "in_force": p.in_force,
                    "image": p.plugin.url, "digest": (p.module or {}).get("digest", ""),
                    "module_sha256": (p.module or {}).get("sha256", ""), "form": (p.module or {}).get("form", ""),
                    "pulled": bool((p.module or {}).get("pulled")),
                    "problem": p.problem} for p in on]
        return {"target": "local", "workload": WORKLOAD.describe(), "sidecar": side, "plugins": plugins}

    def down(self) -> bool:
        """Stop the sidecar (the applied resources stay, and come back with the next apply)."""
        return sidecar.stop()


def _envoy_said(running: sidecar.Sidecar) -> str:
    from workshop.env import envoy as envoylib

    lines = [envoylib.plain(ln) for ln in running.envoy.log().splitlines()[-40:]
             if "[error]" in ln or "[critical]" in ln or "[warning][config]" in ln]
    return lines[-1].strip() if lines else "see its log"


def choose(explicit: str | None = None) -> Target:
    """``explicit`` ("local" or "cluster"), else $WORKSHOP_MESH_TARGET, else the cluster when kubectl's
    current context has Istio's WasmPlugin CRD, else the local mesh."""
    import os

    from workshop.env.mesh import cluster

    wanted = (explicit or os.environ.get("WORKSHOP_MESH_TARGET") or "auto").lower()
    if wanted == "local":
        return LocalMesh()
    if wanted == "cluster":
        return cluster.ClusterTarget.from_kubectl()
    if wanted != "auto":
        raise MeshError(f"there is no mesh target {wanted!r}", hint="choose local, cluster or auto")
    found = cluster.detect()
    return found if found is not None else LocalMesh()
