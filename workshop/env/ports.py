"""The services' ports on 127.0.0.1, and the one way each is chosen: `workshop env up --port NAME=N` (four
have a short form too, `--envoy-port N`), or WORKSHOP_PORT_<NAME>.

Everything that names a port option (the parser, its help, the sentence that says how to move a port
that is taken) reads it from here. It imports only the standard library and core.errors, so the CLI
may build its parser from it without slowing `workshop --help`.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, fields

from workshop.core.errors import UsageError


@dataclass(frozen=True)
class Ports:
    """The ports on 127.0.0.1; each can be changed with a flag or WORKSHOP_PORT_<NAME>."""

    envoy: int = 10000
    envoy_admin: int = 9901
    registry: int = 5000
    httpbin: int = 8080
    private_registry: int = 5001
    modules: int = 8077  # the Wasm module server
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
    # the mesh's ingress gateway: its listener, then the same four ports as the sidecar's, each its own
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


NAMES = tuple(f.name for f in fields(Ports))
SHORT_FLAGS = ("envoy", "envoy_admin", "registry", "httpbin")  # each has its own `--NAME-port N` as well


def env_var(port_name: str) -> str:
    return f"WORKSHOP_PORT_{port_name.upper()}"


def flag(port_name: str) -> str:
    """The `workshop env up` option that sets this port, as typed with N for the number."""
    if port_name in SHORT_FLAGS:
        return f"--{port_name.replace('_', '-')}-port N"
    return f"--port {port_name.replace('_', '-')}=N"


def how_to_change(port_name: str) -> str:
    return f"`workshop env up {flag(port_name)}` or {env_var(port_name)}=N"


def add_options(parser: argparse.ArgumentParser) -> None:
    """The port options of `workshop env up`: ``--port NAME=N`` (repeatable) and the short forms."""
    for name in SHORT_FLAGS:
        parser.add_argument(f"--{name.replace('_', '-')}-port", dest=f"{name}_port", type=int, metavar="N",
                            help=f"port for {name.replace('_', ' ')} (the same as --port {name.replace('_', '-')}=N)")
    parser.add_argument("--port", action="append", default=[], metavar="NAME=N",
                        help="any port, e.g. --port kube-api=7443 or --port sidecar=15106 (repeatable; NAME as in "
                             "WORKSHOP_PORT_<NAME>, in lower case with - for _; a wrong one is answered with the list)")


def from_options(args: argparse.Namespace) -> Ports | None:
    """The ports ``add_options`` took (over WORKSHOP_PORT_*, over the defaults); None when none was chosen
    either way, so that what already runs is used wherever it is. A UsageError names a bad one."""
    given: dict[str, int | None] = {name: getattr(args, f"{name}_port", None) for name in SHORT_FLAGS}
    for item in getattr(args, "port", None) or []:
        name, sep, raw = item.partition("=")
        key = name.strip().replace("-", "_")
        if not sep or key not in NAMES:
            raise UsageError(f"--port {item}: give NAME=N, where NAME is one of "
                             f"{', '.join(n.replace('_', '-') for n in NAMES)}")
        given[key] = check_port(raw.strip(), f"--port {item}")
    chosen = any(v is not None for v in given.values()) or any(os.environ.get(env_var(n), "").strip() for n in NAMES)
    return Ports.from_env(**given) if chosen else None


def check_port(raw: str, where: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise UsageError(f"{where} is not a port number: use a number from 1024 to 65535")
    return int(raw)
