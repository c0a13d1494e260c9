"""`workshop mesh apply|get|delete|status|down`: deploy filters with Istio's WasmPlugin resource.

Imports stay lazy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workshop.cli import output
from workshop.cli.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE

HELP = """\
Deploy your filter with Istio's WasmPlugin resource.

With no cluster (the default), this is the LOCAL MESH: a stand-in for Istio, not Istio. The
workshop plays istiod and the istio-agent for one workload, go-httpbin (labels app=httpbin,
version=v1, namespace default), behind a real Envoy sidecar on 127.0.0.1 (inbound listener 15006,
admin 15000; WORKSHOP_PORT_SIDECAR, WORKSHOP_PORT_SIDECAR_ADMIN). It checks your YAML against
Istio's own CRD schema, pulls the image as the agent does, and hands Envoy the filters through
ECDS, so Envoy is never restarted. It does not model: Kubernetes itself, other workloads or
namespaces (istio-system selects all), outbound (CLIENT) traffic, NETWORK plugins, mTLS,
verificationKey, or istiod's status conditions.

With --target cluster (or automatically when kubectl's current context has Istio's CRDs), the same
commands use kubectl against that cluster.

  workshop mesh apply -f wasmplugin.yaml     apply a WasmPlugin (or a pull Secret)
  workshop mesh get                          what is applied
  workshop mesh status                       the workload, its sidecar, the plugins in force
  workshop mesh delete add-headers           remove a WasmPlugin (or Secret)
  workshop mesh down                         stop the local sidecar (what is applied is kept)
"""


def add_parsers(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """`mesh` and its actions, each naming its handler."""
    common_parents = [common]
    opts = argparse.ArgumentParser(add_help=False)
    opts.add_argument("--json", action="store_true", help="print JSON for machines")
    opts.add_argument("--target", choices=("auto", "local", "cluster"), default=None,
                      help="local mesh, a real cluster with Istio, or auto (default, or $WORKSHOP_MESH_TARGET)")
    parents = [*common_parents, opts]
    mesh = subparsers.add_parser("mesh", help="deploy filters with Istio's WasmPlugin (local mesh or a real cluster)",
                                 description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 parents=list(common_parents))
    sub = mesh.add_subparsers(dest="mesh_command", metavar="ACTION")
    apply = sub.add_parser("apply", help="apply the resources in a YAML file", parents=parents)
    apply.add_argument("-f", "--filename", required=True, metavar="FILE", help="a WasmPlugin or Secret YAML file")
    get = sub.add_parser("get", help="list the applied WasmPlugins and Secrets", parents=parents)
    delete = sub.add_parser("delete", help="delete a WasmPlugin (or Secret) by name", parents=parents)
    delete.add_argument("name")
    delete.add_argument("-n", "--namespace", default="default")
    status = sub.add_parser("status", help="the workload, its sidecar, and the plugins in force", parents=parents)
    status.add_argument("--log", action="store_true", help="also print the end of the sidecar's log")
    down = sub.add_parser("down", help="stop the local sidecar (applied resources are kept)", parents=parents)
    private = sub.add_parser("private-registry", help="run lab 07's private registry (a login required) until Ctrl-C",
                             parents=parents)
    private.add_argument("--push", metavar="WASM", default="plugin.wasm",
                         help="the module to push there as wasm-workshop/filter:v2 (default plugin.wasm, if present)")
    mesh.set_defaults(func=lambda args: _no_action(mesh))
    for parser, action in ((apply, _apply), (get, _get), (delete, _delete), (status, _status)):
        parser.set_defaults(func=_on_target(action))
    down.set_defaults(func=_reported(_down))
    private.set_defaults(func=_reported(_private_registry))


def _no_action(mesh: argparse.ArgumentParser) -> int:
    mesh.print_help()
    return EXIT_USAGE


def _down(args: argparse.Namespace) -> int:
    from workshop.env.mesh import LocalMesh

    stopped = LocalMesh().down()
    print("stopped the local sidecar" if stopped else "the local sidecar was not running")
    return EXIT_OK


def _on_target(action: Any) -> Any:
    """The action, run against the chosen target (the local mesh or a cluster)."""

    def run(args: argparse.Namespace) -> int:
        from workshop.env.mesh import choose

        return int(action(choose(args.target), args))

    return _reported(run)


def _reported(action: Any) -> Any:
    """The action, with what the mesh refuses reported with its hint (exit 1)."""

    def run(args: argparse.Namespace) -> int:
        from workshop.env.mesh import MeshError, SchemaMissing

        try:
            return int(action(args))
        except (MeshError, SchemaMissing) as exc:
            return _refused(exc, args)

    return run


def _refused(exc: Exception, args: argparse.Namespace) -> int:
    hint = getattr(exc, "hint", "")
    if getattr(args, "json", False):
        output.print_json({"error": str(exc), "hint": hint})
    else:
        print(f"workshop mesh: {exc}" + (f"\n  try: {hint}" if hint else ""), file=sys.stderr)
    return EXIT_FAILED


def _banner(target: Any) -> None:
    if target.name == "local":
        print("Local mesh (a stand-in for Istio on 127.0.0.1; `workshop mesh --help` says what it models)")
    else:
        print(f"Cluster {target.context} (kubectl)")


def _apply(target: Any, args: argparse.Namespace) -> int:
    say = (lambda m: None) if args.json else (lambda m: print(f"  … {m}"))
    if not args.json:
        _banner(target)
    outcomes = target.apply(Path(args.filename), say)
    if args.json:
        output.print_json([o.__dict__ for o in outcomes])
    else:
        for o in outcomes:
            print(f"{o.kind.lower()}/{o.name} {o.action}" + (f": {o.detail}" if o.detail else ""))
            if o.problem:
                print(f"  ✗ {o.problem}" + (f"\n  try: {o.hint}" if o.hint else ""))
    return EXIT_FAILED if any(o.problem for o in outcomes) else EXIT_OK


def _get(target: Any, args: argparse.Namespace) -> int:
    items = target.get()
    if args.json:
        output.print_json(items)
        return EXIT_OK
    if not items:
        print("No WasmPlugins applied. Apply one with `workshop mesh apply -f wasmplugin.yaml`.")
    for i in items:
        if i["kind"] == "Secret":
            print(f"secret/{i['name']}  ({i['namespace']})  logins for: {', '.join(i['registries'])}")
        else:
            print(f"wasmplugin/{i['name']}  ({i['namespace']})  {i['url']}  phase {i.get('phase', '-')}"
                  f"  priority {i.get('priority', 0)}  {i.get('in_force', '')}")
            if i.get("problem"):
                print(f"  ✗ {i['problem']}")
    return EXIT_OK


def _delete(target: Any, args: argparse.Namespace) -> int:
    for o in target.delete(args.name, args.namespace):
        print(f"{o.kind.lower()}/{o.name} {o.action}")
    return EXIT_OK


def _status(target: Any, args: argparse.Namespace) -> int:
    data = target.status()
    if args.json:
        output.print_json(data)
        return EXIT_OK
    _banner(target)
    print(f"Workload: {data['workload']}")
    side = data["sidecar"]
    if target.name == "local":
        if side["running"]:
            print(f"Sidecar:  Envoy pid {side['pid']}, inbound {side['listener']} -> {side['upstream']}, "
                  f"admin {side['admin']}, {side['filter_updates']} filter updates, up {side['up_for']:.0f} s")
        else:
            print("Sidecar:  not running (the next `workshop mesh apply` starts it)")
    else:
        print(f"Sidecar:  Wasm filters {', '.join(side['ecds_filters']) or 'none'}")
    if not data["plugins"]:
        print("Plugins:  none in force")
    for p in data["plugins"]:
        if target.name != "local":
            print(f"  wasmplugin/{p['name']}  {p['url']}")
            continue
        print(f"  {p['filter']}. wasmplugin/{p['name']}  phase {p['phase']}  priority {p['priority']}: {p['in_force']}")
        print(f"     image {p['image']}" + (f"  {p['form']} sha256:{p['digest']}" if p["digest"] else ""))
        if p["problem"]:
            print(f"     ✗ {p['problem']}")
    if getattr(args, "log", False) and target.name == "local" and side.get("log"):
        from workshop.env.envoy import last_lines

        print("Sidecar log (last lines):\n" + last_lines(Path(side["log"]).read_text(errors="replace"), 20))
    return EXIT_OK


def _private_registry(args: argparse.Namespace) -> int:
    import time

    from workshop.env.mesh import private_registry

    registry = private_registry.start()
    try:
        wasm = Path(args.push)
        if wasm.is_file():
            registry.push(wasm.resolve())
            print(f"pushed {wasm} as {registry.address}/wasm-workshop/filter:v2")
        print(f"private registry on {registry.address}; user {private_registry.USER}, password as in the lab; "
              "Ctrl-C stops it")
        while registry.proc is not None and registry.proc.poll() is None:
            time.sleep(0.5)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        registry.stop()
