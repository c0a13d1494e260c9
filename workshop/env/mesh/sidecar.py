"""The sidecar: a real Envoy in front of the workload, its Wasm filters discovered from files (ECDS).

Istio's agent hands Envoy each WasmPlugin as an ECDS resource; here each plugin gets one of
``SLOTS`` filter slots in the inbound HTTP filter chain, each slot fed from its own file
(``<state>/mesh/ecds/slot-N.json``). Rewriting a slot's file (atomic rename) makes Envoy swap that
filter in place: no restart, no dropped listener. An unused slot holds an empty RBAC filter, which
allows everything (the "allow-all" Istio also puts in when a FAIL_OPEN plugin's image cannot be
fetched); the deny-all (FAIL_CLOSE) is an RBAC filter with an ALLOW action and no policy.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from workshop.core.atomic import write_atomic
from workshop.core.errors import WorkshopError
from workshop.core.locations import state_dir
from workshop.env import envoy as envoylib
from workshop.env import http, supervisor

SLOTS = 8  # WasmPlugins one workload can have at once in the local mesh
RBAC_TYPE = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
EXTENSION_TYPE = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"
STRING_VALUE = "type.googleapis.com/google.protobuf.StringValue"
ALLOW_ALL: dict = {"@type": RBAC_TYPE}  # no rules: nothing is enforced
DENY_ALL: dict = {"@type": RBAC_TYPE, "rules": {"action": "ALLOW"}}  # allow only what a policy names: nothing
# Istio's ports: 15006 takes inbound traffic, 15000 is the proxy's admin.
DEFAULT_LISTENER, DEFAULT_ADMIN = 15006, 15000


class SidecarError(WorkshopError):
    """The sidecar could not start or be reached; the message says what to do."""


def mesh_dir() -> Path:
    return state_dir() / "mesh"


def ecds_dir() -> Path:
    return mesh_dir() / "ecds"


def slot_name(index: int) -> str:
    return f"wasmplugin-slot-{index}"


def slot_path(index: int) -> Path:
    return ecds_dir() / f"{slot_name(index)}.json"


def write_slot(index: int, typed_config: dict, version: str) -> None:
    """Hand Envoy a new filter for one slot: a complete file, renamed into place, so Envoy never reads half."""
    resource = {"@type": EXTENSION_TYPE, "name": slot_name(index), "typed_config": typed_config}
    write_atomic(slot_path(index), json.dumps({"version_info": version, "resources": [resource]}))


def read_slot(index: int) -> dict:
    try:
        return json.loads(slot_path(index).read_text())["resources"][0]["typed_config"]
    except (OSError, ValueError, KeyError, IndexError):
        return ALLOW_ALL


def bootstrap(listen_port: int, admin_port: int, upstream: tuple[str, int]) -> dict:
    """Envoy's bootstrap: inbound listener -> SLOTS ECDS filter slots -> router -> the workload."""
    slots = []
    for i in range(SLOTS):
        source = {"path_config_source": {"path": str(slot_path(i)), "watched_directory": {"path": str(ecds_dir())}},
                  "resource_api_version": "V3"}
        slots.append({"name": slot_name(i), "config_discovery": {
            "config_source": source, "default_config": ALLOW_ALL,
            "type_urls": [envoylib.WASM_FILTER_TYPE, RBAC_TYPE]}})
    config = envoylib.bootstrap([], listen_port=listen_port, admin_port=admin_port, upstream=upstream)
    config["node"] = {"id": "sidecar~127.0.0.1~httpbin.default~default.svc.cluster.local", "cluster": "httpbin.default"}
    listener = config["static_resources"]["listeners"][0]
    listener["name"] = "virtualInbound"
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    hcm["stat_prefix"] = "inbound_httpbin"
    hcm["http_filters"] = [*slots, *hcm["http_filters"]]
    return config


ROLE = "mesh:sidecar"


@dataclass
class Sidecar:
    """The running sidecar: the supervisor's child whose role is mesh:sidecar, and what it serves."""

    child: str
    pid: int
    listener_port: int
    admin_port: int
    upstream_port: int
    workdir: str
    owner: int | None = None  # the process whose exit stops it; None: it runs until `workshop mesh down`
    started: float = 0.0

    @classmethod
    def of(cls, child: supervisor.Child) -> Sidecar:
        m = child.meta
        return cls(child=child.id, pid=child.pid or 0, listener_port=m["listener_port"], admin_port=m["admin_port"],
                   upstream_port=m["upstream_port"], workdir=m["workdir"], owner=child.owner, started=child.started)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener_port}"

    @property
    def envoy(self) -> envoylib.Envoy:
        """An admin client for it (``stats()``, ``config_dump()``, ``get()``)."""
        proxy = envoylib.Envoy.attach(self.admin_port, self.listener_port)
        proxy.log_path = Path(self.workdir) / "envoy.log"
        return proxy

    def running(self) -> bool:
        found = supervisor.find(self.child)
        return found is not None and supervisor.alive(found)

    def reloads(self) -> int:
        """How many filter updates Envoy has taken from the slot files since it started."""
        stats = self.envoy.stats()
        return sum(v for k, v in stats.items()
                   if k.startswith("extension_config_discovery.http_filter.") and k.endswith(".config_reload"))


def load() -> Sidecar | None:
    """The sidecar if it still runs (and its owner, if any, too); a stale one is stopped."""
    for child in supervisor.children(ROLE):
        if supervisor.alive(child) and supervisor.owner_alive(child):
            return Sidecar.of(child)
        supervisor.stop(child)
    return None


def stop(sidecar: Sidecar | None = None) -> bool:
    """Stop the sidecar (the running one by default); True if one was running."""
    children = [c for c in supervisor.children(ROLE) if sidecar is None or c.id == sidecar.child]
    was = any(supervisor.alive(c) for c in children)
    for child in children:
        supervisor.stop(child, grace=2.0)
    return was


def start(listen_port: int, admin_port: int, upstream_port: int, *, detached: bool, timeout: float = 30.0) -> Sidecar:
    """Start the sidecar Envoy and wait until it serves; port 0 means any free port."""
    for port, what, var in ((listen_port, "the sidecar's inbound listener", "WORKSHOP_PORT_SIDECAR"),
                            (admin_port, "the sidecar's admin", "WORKSHOP_PORT_SIDECAR_ADMIN")):
        if port and not http.port_free(port):
            raise SidecarError(f"port {port} on 127.0.0.1, wanted by {what}, is already in use: stop what uses it, "
                               f"or choose another with {var}=N")
    ecds_dir().mkdir(parents=True, exist_ok=True)
    for i in range(SLOTS):
        if not slot_path(i).exists():
            write_slot(i, ALLOW_ALL, "0")
    workdir = mesh_dir() / "envoy"
    try:
        proxy = envoylib.start(bootstrap(listen_port, admin_port, ("127.0.0.1", upstream_port)), workdir=workdir,
                               timeout=timeout)
    except envoylib.EnvoyError as exc:
        raise SidecarError(f"the sidecar did not start: {exc}") from None
    assert proxy.proc is not None
    child = supervisor.find(proxy.proc)
    assert child is not None
    meta = {"listener_port": proxy.listen_port, "admin_port": proxy.admin_port, "upstream_port": upstream_port,
            "workdir": str(workdir)}
    return Sidecar.of(supervisor.update(child, detached=detached, role=ROLE, meta=meta))


def ports_from_env() -> tuple[int, int]:
    def one(var: str, default: int) -> int:
        raw = os.environ.get(var, "").strip()
        if not raw:
            return default
        if not raw.isdigit() or int(raw) > 65535:
            raise SidecarError(f"{var}={raw} is not a port number: use 0 (any free port) or 1024 to 65535")
        return int(raw)

    return one("WORKSHOP_PORT_SIDECAR", DEFAULT_LISTENER), one("WORKSHOP_PORT_SIDECAR_ADMIN", DEFAULT_ADMIN)
