"""`workshop mesh status`: what is in force in the mesh, read from the real components.

Resources go to the mesh with Istio's own tools, as in Istio's docs: `kubectl apply -f
wasmplugin.yaml`, `kubectl get wasmplugins`, `kubectl delete` (`eval "$(workshop shellenv)"` points
kubectl at the local API server). This command shows what they became.
"""

from __future__ import annotations

import argparse
from typing import Any

from workshop.cli import output
from workshop.cli.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE

HELP = """\
The mesh is Istio itself: a Kubernetes API server, istiod, and one workload (go-httpbin, label
app=httpbin, namespace default) behind a sidecar run by the real istio-agent and Envoy, all on
127.0.0.1 (`workshop env up mesh` starts them; `workshop env down` stops them). Apply resources with
kubectl, as in Istio's docs:

  eval "$(workshop shellenv)"          kubectl and istioctl on PATH, KUBECONFIG set to the local mesh
  kubectl apply -f wasmplugin.yaml     the API server and istiod's webhook judge it
  kubectl get wasmplugins
  workshop mesh status                 what is in force: each resource, what it became in the
                                       sidecar's Envoy, the inbound filter chain, the agent's fetch errors
  curl -si http://127.0.0.1:15006/get  traffic through the sidecar

With --target cluster the same commands read your own cluster with Istio (kubectl's current context).
"""


def add_parsers(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """`mesh` and its actions, each naming its handler."""
    mesh = subparsers.add_parser("mesh", help="what is in force in the mesh (Istio itself: kubectl applies to it)",
                                 description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter, parents=[common])
    mesh.set_defaults(func=lambda args: _no_action(mesh))
    sub = mesh.add_subparsers(dest="mesh_command", metavar="ACTION")
    status = sub.add_parser("status", help="each extension, what it became in the sidecar, the agent's fetch errors",
                            parents=[common, output.json_option()])
    status.add_argument("--target", choices=("local", "cluster"), default=None,
                        help="the local mesh (default, or $WORKSHOP_MESH_TARGET) or your cluster")
    status.add_argument("--context", help="the kubectl context of your cluster (with --target cluster)")
    status.set_defaults(func=_status)


def _no_action(mesh: argparse.ArgumentParser) -> int:
    mesh.print_help()
    return EXIT_USAGE


def _status(args: argparse.Namespace) -> int:
    from workshop.checking.mesh_status import gateway_view, view
    from workshop.env.mesh_target import choose

    target = choose(args.target, args.context)
    seen = view(target, partial=True)
    gateway = gateway_view(target) if not seen.problem else None
    done = EXIT_FAILED if seen.problem else EXIT_OK
    if args.json:
        output.print_json({**seen.to_dict(), "gateway": gateway.to_dict() if gateway else None})
        return done
    print(f"Mesh: {'the local mesh (Istio on 127.0.0.1)' if seen.target == 'local' else 'your cluster'}")
    if seen.problem:
        print(f"  {output.mark('failed')} {seen.problem}")
    print("\nExtensions in the API server:" if seen.resources else "\nNo WasmPlugin, TrafficExtension or EnvoyFilter is applied.")
    for r in seen.resources:
        became = seen.filter_for(r["kind"], r["name"], r["namespace"]) if r["kind"] != "EnvoyFilter" else None
        priority = "" if r["priority"] is None else f"  priority {r['priority']}"
        print(f"  {r['kind']} {r['namespace']}/{r['name']}  {r['url']}  phase {r['phase'] or 'unset'}{priority}")
        print(f"      -> {_became(r, became, gateway)}")
    if seen.chain:
        print("\nThe inbound listener's HTTP filters, in order:\n  " + " -> ".join(seen.chain))
    if seen.refused:
        print("\nThe sidecar's Envoy refused the last listener update, and runs the one before it:")
        for reason in seen.refused:
            print(f"  {reason[-300:]}")
    if seen.refused_filters:
        print("\nThe sidecar's Envoy refused a filter's configuration, and runs what it ran before (or nothing):")
        for reason in seen.refused_filters:
            print(f"  {reason[-400:]}")
    if seen.fetch_errors:
        print("\nThe istio-agent could not fetch:")
        for line in seen.fetch_errors:
            print(f"  {line if len(line) <= 400 else line[:400] + '…'}")
    if gateway is not None:
        _print_gateway(gateway)
    return done


def _print_gateway(gateway: Any) -> None:
    """The ingress gateway (`workshop env up ingress`): its extensions, its chain, and the failure counters."""
    print("\nThe ingress gateway:")
    if gateway.problem:
        print(f"  {output.mark('failed')} {gateway.problem}")
    for f in gateway.filters:
        what = f"Wasm {_module(f.module)}" if f.kind == "wasm" else f"{f.kind} (the agent could not load the module)"
        print(f"  {f.name}  -> {what}")
    if gateway.chain:
        print("  its listener's HTTP filters, in order: " + " -> ".join(gateway.chain))
    for reason in gateway.refused:
        print(f"  its Envoy refused the last listener update: {reason[-300:]}")
    failed = {k: v for k, v in gateway.fetches.items() if k != "success" and v}
    print(f"  its agent's module fetches: {gateway.fetches.get('success', 0):g} succeeded"
          + "".join(f", {v:g} {k}" for k, v in failed.items()) + " (istio_agent_wasm_remote_fetch_count)")
    rejected = {k: v for k, v in gateway.rejects.items() if v}
    print("  updates a proxy's Envoy refused, by kind (istiod's pilot_total_xds_rejects): "
          + (", ".join(f"{k} {v:g}" for k, v in rejected.items()) or "none"))


def _became(resource: dict, became: Any, gateway: Any = None) -> str:
    if became is None:
        mine = (resource["kind"], resource["namespace"], resource["name"])
        if gateway is not None and any(f.resource == mine for f in gateway.filters):
            return "not in the sidecar; in the ingress gateway (below)"
        if resource["lua"]:
            return "Lua, inline in the inbound listener"
        return "a patch of the sidecar's Envoy configuration" if resource["kind"] == "EnvoyFilter" else "not in the sidecar (yet)"
    if became.kind == "wasm":
        return f"Wasm {_module(became.module)}, failure policy {became.failure_policy or 'FAIL_CLOSE'}"
    return (f"{became.kind} in its place: the agent could not load the module "
            f"(failStrategy {resource['failStrategy'] or 'FAIL_CLOSE'}; the agent's words are below)")


def _module(path: str) -> str:
    """The agent names the module file after the image's digest: show that."""
    name = path.rsplit("/", 1)[-1]
    return f"sha256:{name.removesuffix('.wasm')[:16]}…" if name.endswith(".wasm") else path
