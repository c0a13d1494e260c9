"""`workshop doctor`, `prepare` and `shellenv`: the machine a learner works on, and their shell."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workshop.cli import output
from workshop.cli.exit_codes import EXIT_FAILED, EXIT_OK
from workshop.cli.room import prepare_from
from workshop.core.locations import content_root
from workshop.core.verdict import FAILED, PASSED


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    json_opt = output.json_option()
    p = sub.add_parser("prepare", help="download and build what the labs need, so the workshop then runs offline",
                       description="Download and build what the labs need (Go modules, func-e with its Envoy, the registry, "
                                   "go-httpbin, oras, and the real mesh: etcd, the Kubernetes API server, kubectl, istiod, "
                                   "the istio-agent, istioctl), so the workshop then runs offline. The mesh's programs are "
                                   "built from their Go modules: about 15 minutes the first time on two cores.",
                       parents=[common])
    p.add_argument("--without-mesh", action="store_true",
                   help="skip the mesh's programs (only the labs with the mesh among their services need them; run prepare "
                        "again later for those)")
    p.add_argument("--room", action="store_true",
                   help="also make what `workshop room serve` serves a room (the Python wheels need PyPI once)")
    p.add_argument("--from", dest="from_url", metavar="URL",
                   help="prepare from a workshop room (the instructor's machine) only, never from the internet")
    p.add_argument("--token", metavar="T", help="the room's token (with --from)")
    p.set_defaults(func=cmd_prepare)
    for name, help, func, parents in (
        ("doctor", "check the tools the labs need, and say how to fix what is missing", cmd_doctor, [json_opt]),
        ("shellenv", "print the exports that give your shell the workshop's tools (run: eval \"$(workshop shellenv)\")",
         cmd_shellenv, [json_opt]),
    ):
        sub.add_parser(name, help=help, description=help, parents=[common, *parents]).set_defaults(func=func)


def cmd_doctor(args: argparse.Namespace) -> int:
    from workshop.core.content import ContentError, load_workshop
    from workshop.env.tools import doctor, labs_needing

    tools = doctor()
    try:  # which labs each tool is for: what every lab.md's tools: and services: name
        needs = labs_needing(load_workshop(content_root(args.content)).labs)
    except ContentError:
        needs = {}
    if args.json:
        from dataclasses import asdict

        output.print_json([{**asdict(t), "labs": needs.get(t.name, [])} for t in tools])
    else:
        width = max(len(t.version or "not found") for t in tools)
        for t in tools:
            sign = output.mark(PASSED) if t.ok else output.color("yellow", "!") if t.optional else output.mark(FAILED)
            print(f"  {sign} {t.name:<14} {t.version or 'not found':<{width}} {t.where}")
            if not t.ok:
                labs = needs.get(t.name)
                print(f"      needed for: {t.needed_for}")
                print(f"      labs that need it: {', '.join(labs) if labs else 'none of this workshop'}\n      fix: {t.fix}")
    return EXIT_OK if all(t.ok or t.optional for t in tools) else EXIT_FAILED


def cmd_shellenv(args: argparse.Namespace) -> int:
    import shlex

    from workshop.env.learner import shell_exports, tool_dirs

    exports = shell_exports()
    exports.pop("PATH", None)  # the tools' folders go in front of the shell's own PATH, not a copy of ours
    dirs = [str(d) for d in tool_dirs()]
    if args.json:
        output.print_json({"path_prepend": dirs, "env": exports})
        return EXIT_OK
    print("# the workshop's tools (func-e, oras, kubectl, istioctl, ...) on PATH; func-e runs the prepared Envoy offline;")
    print("# kubectl talks to the local mesh (workshop env up mesh)")
    print(f'export PATH={shlex.quote(":".join(dirs))}:"$PATH"')
    for name, value in sorted(exports.items()):
        print(f"export {name}={shlex.quote(value)}")
    return EXIT_OK


def cmd_prepare(args: argparse.Namespace) -> int:
    from workshop.env.prepare import PrepareError, prepare

    session = output.session(args)
    if args.from_url:
        return prepare_from(args, session)
    try:
        done = prepare(session.workshop, progress=lambda msg: print(f"  … {msg}", flush=True), mesh=not args.without_mesh)
    except PrepareError as exc:
        print(f"workshop prepare: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.room:
        from workshop.room import stock
        from workshop.room.home import RoomHome

        home = RoomHome.default()
        stock.stock_wheels(home, lambda msg: print(f"  … {msg}", flush=True))
        stock.stock(session.workshop, home, lambda msg: print(f"  … {msg}", flush=True), wheels=False)
        done.append(f"the room is stocked in {home.folder}: `workshop room serve` serves it")
    print(f"Ready: {len(done)} things prepared; the labs now run offline.")
    return EXIT_OK
