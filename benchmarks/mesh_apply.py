"""`kubectl apply` of a WasmPlugin to the real mesh, until the traffic shows it (goal for a pluginConfig update: under 1 s,
the same Envoy).

    python benchmarks/mesh_apply.py [--runs 5]

The mesh (etcd, the Kubernetes API server, istiod, the sidecar: istio-agent and Envoy) and the OCI
registry are started once with `workshop env up`, on free ports and in temporary folders (not
timed). The filter (solutions/07-wasmplugin) is built once; before each run it is made new (one Wasm
custom section more, so its bytes differ as a rebuild's do) and pushed to a new tag with the lab's
push.sh (the oras CLI, two layers): every apply makes the agent pull an image and Envoy compile a module
it has not seen, as a learner's apply after a rebuild does. Each run then times, as a learner types it (kubectl, a new process):

  apply    `kubectl apply -f` of a new WasmPlugin -> the first response through the sidecar with its header
  update   the same file with a new pluginConfig (client-side apply, the docs' way) -> the new header
  update (server-side)  the same with `kubectl apply --server-side` (the API server merges; kubectl sends the file)
  delete   `kubectl delete -f` -> the first response without the header

and checks that Envoy is the same process throughout. Prints medians, kubectl's own share (until it
exits) and the ratios. Run 1 is shown on its own: it is kubectl's first contact with the API server
(it downloads the discovery and OpenAPI documents, then keeps them in its cache); the medians are of
the runs after it. kubectl's cache is a temporary folder (KUBECACHEDIR): run 1 starts cold, and ~/.kube is never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import fields
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_UPDATE = 1.0
NAME = "bench-headers"


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def custom_section(name: str, payload: bytes) -> bytes:
    """A Wasm custom section (id 0): ignored by the runtime, but it makes the module's bytes (and digest) new."""
    body = _leb128(len(name.encode())) + name.encode() + payload
    return b"\0" + _leb128(len(body)) + body


def leftovers(base: str) -> list[str]:
    """Processes started under the benchmark's folders that still run (killed, and reported)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"WORKSHOP_STATE_DIR={base}/".encode() in (entry / "environ").read_bytes():
                found.append(entry.name)
                os.kill(int(entry.name), signal.SIGKILL)
        except OSError:
            continue
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="apply, update and delete cycles to time (default 5)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from workshop.core.locations import tools_bin, tools_dir
    from workshop.env import binaries
    from workshop.env.services import Ports

    missing = [p.name for p in binaries.missing(include_optional=False)]
    if missing:
        sys.exit(f"the mesh's programs are not built ({', '.join(missing)}): run `workshop prepare`")
    tmp = Path(tempfile.mkdtemp(prefix="bench-mesh-apply-"))
    os.environ["WORKSHOP_TOOLS_DIR"] = str(tools_dir())  # before the data folder moves: the tools stay where they are
    os.environ.pop("WORKSHOP_SERVICES", None)
    for name in ("STATE", "DATA", "CACHE"):
        os.environ[f"WORKSHOP_{name}_DIR"] = str(tmp / name.lower())
    names = [f.name for f in fields(Ports)]
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    os.environ.update({f"WORKSHOP_PORT_{n.upper()}": str(p) for n, p in ports.items()})
    os.environ.update(NO_COLOR="1", PATH=f"{tools_bin()}{os.pathsep}{os.environ.get('PATH', '')}",
                      KUBECONFIG=str(tmp / "data" / "mesh" / "kubeconfig"), KUBECACHEDIR=str(tmp / "kube-cache"))
    import psutil

    from workshop.env import http

    cli = [sys.executable, "-m", "workshop", "env"]
    inbound = f"http://127.0.0.1:{ports['sidecar']}/get"
    registry = f"127.0.0.1:{ports['registry']}"
    folder = tmp / "filter"
    spec = folder / "wasmplugin.yaml"
    results: dict[str, list[float]] = {"apply": [], "update": [], "update (server-side)": [], "delete": []}
    kubectl_share: dict[str, list[float]] = {k: [] for k in results}
    pulls_before = 0

    broken: list[str] = []  # requests that got no answer while a change went in (counted, then asked again)

    def header() -> str | None:
        try:
            return http.request(inbound, timeout=5).headers.get("x-run")
        except http.NoResponse as exc:
            broken.append(str(exc))
            return "(no answer)"

    def write(tag: str, value: str) -> None:
        spec.write_text("apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n"
                        f"metadata: {{name: {NAME}, namespace: default}}\nspec:\n"
                        f"  selector: {{matchLabels: {{app: httpbin}}}}\n  url: oci://{registry}/wasm-workshop/filter:{tag}\n"
                        f"  phase: STATS\n  pluginConfig: {{headers: {{x-run: {value}}}}}\n")

    def timed(what: str, argv: list[str], until) -> float:  # type: ignore[no-untyped-def]
        began = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        kubectl_share[what].append(time.perf_counter() - began)
        if proc.returncode != 0:
            sys.exit(f"`{' '.join(argv[:3])}` failed: {proc.stdout}{proc.stderr}")
        deadline = began + 60
        while not until():
            if time.perf_counter() > deadline:
                sys.exit(f"{what}: the traffic did not change within 60 s (header now: {header()!r})")
            time.sleep(0.005)
        took = time.perf_counter() - began
        results[what].append(took)
        return took

    def envoy_pid() -> int:
        listed = json.loads(subprocess.run([*cli, "status", "--json"], capture_output=True, text=True, check=True).stdout)
        sidecar = next(s for s in listed["services"] if s["name"] == "sidecar")
        return next(p.pid for p in psutil.Process(sidecar["pid"]).children(recursive=True) if p.name() == "envoy")

    def agent_pulls() -> int:
        text = http.request(f"http://127.0.0.1:{ports['sidecar_status']}/stats/prometheus", timeout=5).text
        return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
                   if line.startswith("istio_agent_wasm_remote_fetch_count") and 'result="success"' in line)

    try:
        began = time.perf_counter()
        proc = subprocess.run([*cli, "up", "mesh", "registry", "--timeout", "90"], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.exit(f"`workshop env up mesh registry` failed:\n{proc.stdout}{proc.stderr}")
        print(f"  the mesh and the registry are up ({time.perf_counter() - began:.1f} s, not timed)")
        shutil.copytree(ROOT / "solutions" / "07-wasmplugin", folder)
        subprocess.run(["go", "build", "-buildmode=c-shared", "-o", "plugin.wasm", "."], cwd=folder, check=True,
                       env={**os.environ, "GOOS": "wasip1", "GOARCH": "wasm"})
        first_envoy = envoy_pid()
        pulls_before = agent_pulls()
        module = (folder / "plugin.wasm").read_bytes()
        for i in range(args.runs):
            tag = f"run-{i}-{os.getpid()}"
            # a module of its own each run (the same code, one custom section more), as a learner's rebuild makes:
            # Envoy would otherwise reuse the VM it compiled for the same bytes
            (folder / "plugin.wasm").write_bytes(module + custom_section("workshop-bench", tag.encode()))
            subprocess.run(["sh", "push.sh"], cwd=folder, check=True, capture_output=True,
                           env={**os.environ, "IMAGE": f"{registry}/wasm-workshop/filter:{tag}"})
            write(tag, f"apply-{i}")
            a = timed("apply", ["kubectl", "apply", "-f", str(spec)], lambda i=i: header() == f"apply-{i}")
            write(tag, f"update-{i}")
            u = timed("update", ["kubectl", "apply", "-f", str(spec)], lambda i=i: header() == f"update-{i}")
            write(tag, f"server-side-{i}")
            s = timed("update (server-side)", ["kubectl", "apply", "--server-side", "-f", str(spec)],
                      lambda i=i: header() == f"server-side-{i}")
            d = timed("delete", ["kubectl", "delete", "-f", str(spec)], lambda: header() is None)
            print(f"  run {i + 1}: apply {a:.2f} s, update {u:.2f} s, update (server-side) {s:.2f} s, delete {d:.2f} s", flush=True)
        same_envoy = envoy_pid() == first_envoy
        pulls = agent_pulls() - pulls_before
    finally:
        subprocess.run([*cli, "down"], capture_output=True, check=False)
        left = leftovers(str(tmp))
        shutil.rmtree(tmp, ignore_errors=True)
        if left:
            print(f"  LEFT RUNNING after `workshop env down` (killed now): pids {', '.join(left)}")
    # run 1 is a learner's first contact: kubectl downloads the API's discovery and OpenAPI documents (then cached)
    print(f"\nkubectl -> the traffic through the sidecar shows it; run 1 alone, then the median of runs 2-{args.runs}:")
    for what, times in results.items():
        later, share = times[1:] or times, kubectl_share[what][1:] or kubectl_share[what]
        print(f"  {what:<22} first {times[0]:.2f} s (kubectl {kubectl_share[what][0]:.2f} s);  then median "
              f"{statistics.median(later):.2f} s (min {min(later):.2f}, max {max(later):.2f}; kubectl {statistics.median(share):.2f} s)")
    median = {what: statistics.median(times[1:] or times) for what, times in results.items()}
    print(f"  apply / update: {median['apply'] / median['update']:.2f}x;  "
          f"update (server-side) / update: {median['update (server-side)'] / median['update']:.2f}x")
    print(f"  the istio-agent pulled {pulls} image(s) for {args.runs} applies; Envoy restarted: "
          f"{'no (same pid throughout)' if same_envoy else 'YES'}; requests with no answer: {len(broken)}"
          + (f" ({broken[0]})" if broken else ""))
    ok = median["update"] < GOAL_UPDATE and same_envoy
    print(f"  update / goal ({GOAL_UPDATE:g} s): {median['update'] / GOAL_UPDATE:.2f}x -> {'met' if ok else 'NOT met'}"
          f";  first update / goal: {results['update'][0] / GOAL_UPDATE:.2f}x")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
