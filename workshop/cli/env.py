"""`workshop env up|down|status|logs`: the live services from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workshop.cli import output
from workshop.cli.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from workshop.env.services import ServiceInfo

NAMES = "envoy, registry, httpbin"

HELP = """\
The services the labs talk to, all on 127.0.0.1: envoy (the gateway: listener 10000, admin 9901,
routing to httpbin), registry (the OCI registry, 5000) and httpbin (the upstream, 8080).

  workshop env up                    start them all as local processes (they run until `env down`)
  workshop env up registry --backend docker
  workshop env status                what runs, where, and who owns it
  workshop env logs envoy --lines 50
  workshop env down                  stop everything that was started

Ports: --envoy-port, --envoy-admin-port, --registry-port, --httpbin-port, any other with --port NAME=N
(the mesh's: --port kube-api=7443), or WORKSHOP_PORT_ENVOY, WORKSHOP_PORT_KUBE_API and so on. Backend: --backend or
WORKSHOP_BACKEND (process, the default; docker; auto = docker when an engine answers).
"""


def add_parsers(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """`env` and its actions, each naming its handler."""
    parents = [common, output.json_option()]
    env = subparsers.add_parser("env", help="start, stop and inspect the live services (Envoy, registry, httpbin)",
                                description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter, parents=[common])
    env.set_defaults(func=lambda args: _no_action(env))
    sub = env.add_subparsers(dest="env_command", metavar="ACTION")
    up = sub.add_parser("up", help="start services and wait until they are ready", parents=parents)
    up.add_argument("services", nargs="*", metavar="SERVICE", help=f"{NAMES} (default: all)")
    up.add_argument("--backend", choices=("process", "docker", "auto"),
                    help="local processes (default, or $WORKSHOP_BACKEND) or Docker containers")
    for name in ("envoy", "envoy-admin", "registry", "httpbin"):
        up.add_argument(f"--{name}-port", type=int, metavar="N", help=f"port for {name.replace('-', ' ')}")
    up.add_argument("--port", action="append", default=[], metavar="NAME=N",
                    help="any other port, e.g. --port kube-api=7443 or --port sidecar=15106 (repeatable; "
                         "the names are those of `workshop env status --json`)")
    up.add_argument("--timeout", type=float, default=30.0, metavar="S", help="seconds to wait for readiness (30)")
    down = sub.add_parser("down", help="stop services (default: all) and remove their containers", parents=parents)
    down.add_argument("services", nargs="*", metavar="SERVICE", help=f"{NAMES} (default: all)")
    status = sub.add_parser("status", help="show what runs, where, and who owns it", parents=parents)
    logs = sub.add_parser("logs", help="print the end of a service's log", parents=parents)
    logs.add_argument("service", metavar="SERVICE", help=NAMES)
    logs.add_argument("--lines", "-n", type=int, default=50, metavar="N", help="how many lines (default 50; 0: all)")
    for parser, action in ((up, _up), (down, _down), (status, _status), (logs, _logs)):
        parser.set_defaults(func=_reported(action))


def _no_action(env: argparse.ArgumentParser) -> int:
    print("workshop env: name an action: up, down, status or logs (`workshop env --help`)", file=sys.stderr)
    return EXIT_USAGE


def _reported(action: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """The action, with a service that fails reported as `workshop env ACTION: why` (exit 1)."""

    def run(args: argparse.Namespace) -> int:
        from workshop.env.docker_engine import EngineError
        from workshop.env.services import ServiceError

        try:
            return int(action(args))
        except (ServiceError, EngineError) as exc:
            if getattr(args, "json", False):
                print(json.dumps({"ok": False, "error": str(exc)}, indent=2))
            print(f"workshop env {args.env_command}: {exc}", file=sys.stderr)
            return EXIT_FAILED

    return run


def _say(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    if args.json:
        return lambda _msg: None
    return lambda msg: print(f"  … {msg}", flush=True)


def _row(info: ServiceInfo) -> str:
    where = info.url + (f"  admin {info.admin_url}" if info.admin_url else "")
    if info.backend == "yours":
        return f"  {info.name:<15} {'yours':<9} {where:<50} {'already running, not started by the workshop: used as it is'}"
    backend = "container" if info.backend == "docker" else "process"
    runner = f"container {info.container[:12]}" if info.container else f"pid {info.pid}"
    owner = "until `workshop env down`" if info.detached else f"owned by pid {info.owner}"
    serves = f"\n  {'':<15} serves {info.details['folder']}" if info.details.get("folder") else ""  # the module server
    return f"  {info.name:<15} {backend:<9} {where:<50} {runner:<22} {owner}{serves}"


def _up(args: argparse.Namespace) -> int:
    import time

    from workshop.env import services
    from workshop.env.service import parse_port_options, ports_chosen

    given = {"envoy": args.envoy_port, "envoy_admin": args.envoy_admin_port,
             "registry": args.registry_port, "httpbin": args.httpbin_port, **parse_port_options(args.port)}
    # chosen ports are held against what already runs; left to defaults, what runs is used wherever it is
    ports = services.Ports.from_env(**given) if ports_chosen(**given) else None
    began = time.monotonic()
    up = services.ensure(args.services or None, backend=args.backend, ports=ports, progress=_say(args),
                         detached=True, timeout=args.timeout)
    seconds = time.monotonic() - began
    if args.json:
        print(json.dumps({"ok": True, "seconds": round(seconds, 3),
                          "services": [i.to_dict() for i in up.values()]}, indent=2))
        return EXIT_OK
    print(f"Up ({seconds:.1f} s):")
    for info in up.values():
        print(_row(info))
    print("Stop them with `workshop env down`; read a log with `workshop env logs SERVICE`.")
    return EXIT_OK


def _down(args: argparse.Namespace) -> int:
    from workshop.env import services

    stopped = services.down(args.services or None, progress=_say(args))
    if args.json:
        print(json.dumps({"ok": True, "stopped": stopped}, indent=2))
    else:
        print(f"Stopped: {', '.join(stopped)}." if stopped else "Nothing was running.")
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    from workshop.env import services

    running = {i.name: i for i in services.status()}
    if args.json:
        print(json.dumps({"ok": True, "services": [
            {"name": n, "up": n in running, **(running[n].to_dict() if n in running else {})}
            for n in services.SERVICES]}, indent=2))
        return EXIT_OK
    for name in services.SERVICES:
        print(_row(running[name]) if name in running else f"  {name:<15} down")
    if not running:
        print("Nothing runs. Start the services with `workshop env up`.")
    return EXIT_OK


def _logs(args: argparse.Namespace) -> int:
    from workshop.env import services

    text = services.logs(args.service, lines=args.lines or None)
    if args.json:
        print(json.dumps({"ok": True, "service": args.service, "log": text}, indent=2))
    else:
        print(text)
    return EXIT_OK

