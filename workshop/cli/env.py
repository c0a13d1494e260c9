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

HELP = """\
The live services the labs use, all on 127.0.0.1 (their default ports; each can be moved):
{services}

  workshop env up                    start {default} as local processes (they run until `env down`)
  workshop env up mesh modules       start those instead (a group, {groups}, starts its services)
  workshop env up registry --backend docker
  workshop env status                what runs, where, and who owns it
  workshop env logs {first:<16} the end of its log
  workshop env down                  stop everything that was started

Ports: --port NAME=N for any of them (--port kube-api=7443), or WORKSHOP_PORT_<NAME> (WORKSHOP_PORT_KUBE_API=7443);
a few have a short form too: {short}.
Backend: --backend or WORKSHOP_BACKEND (process, the default; docker; auto = docker when an engine answers).
"""


class _Help(argparse.Action):
    """-h/--help that names the services from the catalog: read only when help is asked for, since
    importing it (with the mesh's modules) would cost every `workshop` command about 100 ms at start."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, default: str = argparse.SUPPRESS,
                 help: str = "show this help message and exit") -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        parser.description = (parser.description or "").format(**_catalog_words())
        parser.print_help()
        parser.exit()


def _catalog_words() -> dict[str, str]:
    """The services, groups and default set as the help says them, from the catalog and the default ports."""
    from workshop.env.ports import SHORT_FLAGS
    from workshop.env.services import GROUPS, LAB_SERVICES, SERVICES, Ports

    ports = Ports()

    def where(service: Any) -> str:
        found = service.port_map(ports)
        if len(found) == 1:
            return f"port {next(iter(found.values()))}"
        return "ports " + ", ".join(f"{k} {p}" for k, p in found.items())

    rows = [f"  {name:<17} {service.title}; {where(service)}" for name, service in SERVICES.items()]
    return {"services": "\n".join(rows), "default": _listed(LAB_SERVICES),
            "groups": ", ".join(f"{g} = {' + '.join(m)}" for g, m in GROUPS.items()), "first": next(iter(SERVICES)),
            "short": ", ".join(f"--{n.replace('_', '-')}-port N" for n in SHORT_FLAGS)}


def _listed(names: tuple[str, ...] | list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def add_parsers(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """`env` and its actions, each naming its handler."""
    from workshop.env import ports  # standard library and core.errors only: cheap enough for --help

    parents = [common, output.json_option()]
    env = subparsers.add_parser("env", help="start, stop and inspect the live services the labs use", description=HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter, parents=[common], add_help=False)
    env.set_defaults(func=lambda args: _no_action(env))
    sub = env.add_subparsers(dest="env_command", metavar="ACTION")
    lines = "{services}\n\nWith no SERVICE it starts {default}. A group ({groups}) starts its services."
    up = sub.add_parser("up", help="start services and wait until they are ready", parents=parents, add_help=False,
                        description="Start services and wait until they are ready:\n" + lines,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    up.add_argument("services", nargs="*", metavar="SERVICE", help="services or groups (default: the set named above)")
    up.add_argument("--backend", choices=("process", "docker", "auto"),
                    help="local processes (default, or $WORKSHOP_BACKEND) or Docker containers")
    ports.add_options(up)
    up.add_argument("--timeout", type=float, default=30.0, metavar="S", help="seconds to wait for readiness (30)")
    down = sub.add_parser("down", help="stop services (default: all) and remove their containers", parents=parents,
                          add_help=False, description="Stop services and remove their containers:\n{services}",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    down.add_argument("services", nargs="*", metavar="SERVICE", help="services or groups (default: every one running)")
    status = sub.add_parser("status", help="show what runs, where, and who owns it", parents=parents)
    logs = sub.add_parser("logs", help="print the end of a service's log", parents=parents, add_help=False,
                          description="Print the end of a service's log:\n{services}",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    logs.add_argument("service", metavar="SERVICE", help="one of the services named above")
    logs.add_argument("--lines", "-n", type=int, default=50, metavar="N", help="how many lines (default 50; 0: all)")
    for parser in (env, up, down, logs):
        parser.add_argument("-h", "--help", action=_Help)
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
    from workshop.env.ports import from_options

    ports = from_options(args)  # chosen ports are held against what already runs; else it is used where it is
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

