"""What a service is: its ports, how to run it (a plan), when it is ready, and what it does once ready.

The lab services (catalog.py) and the mesh's (env/mesh) are all of this kind, so one lifecycle starts,
reuses, lists and stops every one of them, as local processes or as containers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from workshop.core.errors import UsageError
from workshop.env import http
from workshop.env.service_records import ServiceError
from workshop.env.tools import tool_path

if TYPE_CHECKING:
    from workshop.env.service_records import ServiceInfo

PREPARE_FIX = "run `workshop prepare` (it installs it), or put it on PATH"


@dataclass(frozen=True)
class Ports:
    """The ports on 127.0.0.1; each can be changed with a flag or WORKSHOP_PORT_<NAME>."""

    envoy: int = 10000
    envoy_admin: int = 9901
    registry: int = 5000
    httpbin: int = 8080
    private_registry: int = 5001
    modules: int = 8077  # the Wasm module server (lab 06)
    # the mesh: etcd, the Kubernetes API server, istiod, and the workload's sidecar (Istio's own port numbers)
    etcd: int = 2379
    etcd_peer: int = 2380
    kube_api: int = 6443
    istiod_grpc: int = 15010
    istiod_xds: int = 15012
    istiod_webhook: int = 15017
    istiod_http: int = 15080
    istiod_monitoring: int = 15014
    istiod_ctrlz: int = 9876
    sidecar: int = 15006
    sidecar_admin: int = 15000
    sidecar_status: int = 15020
    sidecar_health: int = 15021
    sidecar_metrics: int = 15090
    # the mesh's ingress gateway (lab 10): its listener, then the same four ports as the sidecar's, each its own
    ingress: int = 18080
    ingress_admin: int = 16000
    ingress_status: int = 16020
    ingress_health: int = 16021
    ingress_metrics: int = 16090

    @classmethod
    def from_env(cls, **overrides: int | None) -> Ports:
        """Defaults, then WORKSHOP_PORT_ENVOY (and so on), then ``overrides`` that are not None."""
        values: dict[str, int] = {}
        for f in fields(cls):
            var = env_var(f.name)
            raw = os.environ.get(var, "").strip()
            if raw:
                values[f.name] = check_port(raw, f"{var}={raw}")
            if overrides.get(f.name) is not None:
                values[f.name] = check_port(str(overrides[f.name]), flag(f.name).replace("N", str(overrides[f.name])))
        return cls(**values)


def env_var(port_name: str) -> str:
    return f"WORKSHOP_PORT_{port_name.upper()}"


PORT_FLAGS = ("envoy", "envoy_admin", "registry", "httpbin")  # `workshop env up --envoy-port N`; any port: --port


def flag(port_name: str) -> str:
    """The `workshop env up` option that sets this port, as typed with N for the number."""
    if port_name in PORT_FLAGS:
        return f"--{port_name.replace('_', '-')}-port N"
    return f"--port {port_name.replace('_', '-')}=N"


def how_to_change(port_name: str) -> str:
    return f"`workshop env up {flag(port_name)}` or {env_var(port_name)}=N"


def parse_port_options(given: list[str]) -> dict[str, int]:
    """``["kube-api=7443"]`` (from ``--port``) as ``{"kube_api": 7443}``; a UsageError names what is wrong."""
    names = [f.name for f in fields(Ports)]
    found = {}
    for item in given:
        name, sep, raw = item.partition("=")
        key = name.strip().replace("-", "_")
        if not sep or key not in names:
            raise UsageError(f"--port {item}: give NAME=N, where NAME is one of "
                             f"{', '.join(n.replace('_', '-') for n in names)}")
        found[key] = check_port(raw.strip(), f"--port {item}")
    return found


def ports_chosen(**overrides: int | None) -> bool:
    """Whether any port was chosen (an option, or a WORKSHOP_PORT_* variable) rather than left to defaults."""
    return any(v is not None for v in overrides.values()) or any(
        os.environ.get(env_var(f.name), "").strip() for f in fields(Ports))


def check_port(raw: str, where: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise UsageError(f"{where} is not a port number: use a number from 1024 to 65535")
    return int(raw)


@dataclass
class Plan:
    """How to run a service: arguments after the binary, files to mount (containers), environment.

    ``wrap`` goes before the binary as a local process (the sidecar's own view of /var/lib); a
    container needs none."""

    args: list[str]
    mounts: dict[str, tuple[str, str]] = field(default_factory=dict)  # host path -> (container path, "ro"|"rw")
    env: dict[str, str] = field(default_factory=dict)
    details: dict[str, str | int] = field(default_factory=dict)
    wrap: list[str] = field(default_factory=list)
    cwd: Path | None = None


IN_CONTAINER = "/etc/wasm-workshop"


class Service:
    """One kind of service. ``ports`` maps the name shown to the learner to a field of ``Ports``."""

    name = ""
    title = ""
    binary_name = ""
    ports: ClassVar[dict[str, str]] = {}
    needs: tuple[str, ...] = ()
    yours_welcome = False  # the same kind of service already on its port (the learner's own) is used as it is

    def binary(self) -> Path:
        path = tool_path(self.binary_name)
        if path is None:
            raise ServiceError(f"{self.title} is needed for {self.name} but `{self.binary_name}` was not found: {PREPARE_FIX}")
        return path

    def image_version(self) -> str:
        """The tag of the image built from this binary."""
        return "latest"

    def port_map(self, ports: Ports) -> dict[str, int]:
        return {key: getattr(ports, attr) for key, attr in self.ports.items()}

    def plan(self, ports: Ports, *, in_container: bool, up: dict[str, ServiceInfo]) -> Plan:
        """How to run it; ``up`` holds the services already running (what it needs among them)."""
        raise NotImplementedError

    def ready(self, ports: dict[str, int]) -> bool:
        raise NotImplementedError

    def after_ready(self, info: ServiceInfo, ports: Ports, say: Callable[[str], None]) -> None:
        """What a service sets up once it answers, before what needs it starts (the mesh's CRDs, say)."""

    def image_files(self) -> list[tuple[Path, str]]:
        """What its container image holds: (file on this machine, path in the image); the binary by default."""
        return [(self.binary(), f"/usr/local/bin/{self.binary_name}")]


def get(url: str) -> http.Response | None:
    """An answer from 127.0.0.1, or None while nothing answers."""
    try:
        return http.request(url, timeout=1.0)
    except http.NoResponse:
        return None


