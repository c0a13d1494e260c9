"""`workshop env up mesh`, cold and warm: etcd, the Kubernetes API server (with Istio's CRDs), istiod and
the sidecar (the istio-agent and Envoy), from the command typed to every one of them ready.

    python benchmarks/mesh_start.py [--runs 5]

Cold: a fresh data and state folder (no etcd data, no API server keys, Istio's CRDs applied anew).
Warm: the same folders again after `workshop env down` (what a learner's second `env up` is). Each
run is the whole command as a learner types it (Python start included); `workshop env down`
follows, timed too. One cold and warm pair runs first to fill the page cache with the programs and
is not counted. Every port is a free one and every folder is temporary, so a learner's mesh is never
touched. Prints medians, where the time goes (from the command's own progress lines) and the ratios
(the goal: a warm start under 5 s).
"""

from __future__ import annotations

import argparse
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
GOAL_WARM = 5.0
# the progress lines of `workshop env up`, in the order they come: (what they end, the words that mark them)
PHASES = (
    ("python and plans", "starting etcd"),
    ("etcd ready", "etcd is ready"),
    ("kube-apiserver ready", "kube-apiserver is ready"),
    ("CRDs, istio-system, webhook applied", "starting istiod"),
    ("istiod ready", "istiod is ready"),
    ("istiod's webhook answers", "istiod validates"),
    ("sidecar: token, root cert, start", "starting sidecar"),
    ("sidecar ready", "sidecar is ready"),
)


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def up(cli: list[str], env: dict[str, str]) -> tuple[float, dict[str, float]]:
    """`workshop env up mesh`: its wall time, and when each of its progress lines came (seconds from the start)."""
    began = time.perf_counter()
    proc = subprocess.Popen([*cli, "up", "mesh", "--timeout", "90"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=ROOT)
    seen: dict[str, float] = {}
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        for phase, words in PHASES:
            if words in line and phase not in seen:
                seen[phase] = time.perf_counter() - began
    code = proc.wait()
    took = time.perf_counter() - began
    if code != 0:
        subprocess.run([*cli, "down"], env=env, capture_output=True, check=False)
        sys.exit(f"`workshop env up mesh` failed (exit {code}):\n{''.join(lines)}")
    seen["exit"] = took
    return took, seen


def down(cli: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    proc = subprocess.run([*cli, "down"], env=env, capture_output=True, text=True, check=False, cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f"`workshop env down` failed:\n{proc.stdout}{proc.stderr}")
    return time.perf_counter() - began


def phases(seen: dict[str, float]) -> dict[str, float]:
    """Each phase's own duration: from the line before it to its line."""
    out, last = {}, 0.0
    for phase, _ in (*PHASES, ("python exits", "")):
        key = "exit" if phase == "python exits" else phase
        if key in seen:
            out[phase] = seen[key] - last
            last = seen[key]
    return out


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
    parser.add_argument("--runs", type=int, default=5, help="cold and warm starts to time, each (default 5)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from workshop.core.locations import tools_dir
    from workshop.env import binaries
    from workshop.env.services import Ports

    missing = [p.name for p in binaries.missing(include_optional=False)]
    if missing:
        sys.exit(f"the mesh's programs are not built ({', '.join(missing)}): run `workshop prepare`")
    tmp = Path(tempfile.mkdtemp(prefix="bench-mesh-start-"))
    env = {**os.environ, "NO_COLOR": "1", "WORKSHOP_TOOLS_DIR": str(tools_dir()), "KUBECACHEDIR": str(tmp / "cache" / "kube")}
    env.pop("WORKSHOP_SERVICES", None)
    for name in ("STATE", "DATA", "CACHE"):
        env[f"WORKSHOP_{name}_DIR"] = str(tmp / name.lower())
    names = [f.name for f in fields(Ports)]
    env.update({f"WORKSHOP_PORT_{n.upper()}": str(p) for n, p in zip(names, free_ports(len(names)), strict=True)})
    cli = [sys.executable, "-m", "workshop", "env"]
    cold: list[float] = []
    warm: list[float] = []
    downs: list[float] = []
    cold_phases: list[dict[str, float]] = []
    warm_phases: list[dict[str, float]] = []
    try:
        for i in range(args.runs + 1):  # the first pair fills the page cache: not counted
            for name in ("state", "data", "cache"):
                shutil.rmtree(tmp / name, ignore_errors=True)
            took, seen = up(cli, env)
            stopped = down(cli, env)
            again, seen_again = up(cli, env)
            stopped_again = down(cli, env)
            label = "not counted" if i == 0 else f"run {i}"
            print(f"  {label}: cold {took:.2f} s, warm {again:.2f} s; env down {stopped:.2f} s, {stopped_again:.2f} s", flush=True)
            if i:
                cold.append(took)
                warm.append(again)
                downs += [stopped, stopped_again]
                cold_phases.append(phases(seen))
                warm_phases.append(phases(seen_again))
    finally:
        subprocess.run([*cli, "down"], env=env, capture_output=True, check=False)
        left = leftovers(str(tmp))
        shutil.rmtree(tmp, ignore_errors=True)
        if left:
            print(f"  LEFT RUNNING after `workshop env down` (killed now): pids {', '.join(left)}")
    if not cold:
        return 0
    print(f"\nworkshop env up mesh, {len(cold)} runs each (medians):")
    print(f"  cold (fresh data folder): {statistics.median(cold):.2f} s   (min {min(cold):.2f}, max {max(cold):.2f})")
    print(f"  warm (state kept):        {statistics.median(warm):.2f} s   (min {min(warm):.2f}, max {max(warm):.2f})")
    print(f"  workshop env down:        {statistics.median(downs):.2f} s")
    print(f"  warm / cold: {statistics.median(warm) / statistics.median(cold):.2f}x;  "
          f"warm / goal ({GOAL_WARM:g} s): {statistics.median(warm) / GOAL_WARM:.2f}x -> "
          + ("met" if statistics.median(warm) < GOAL_WARM else "NOT met"))
    print("\nwhere the time goes (median seconds of each phase, as the command's progress lines show it):")
    print(f"  {'phase':<38} {'cold':>6} {'warm':>6}")
    for phase in [p for p, _ in PHASES] + ["python exits"]:
        c = [p[phase] for p in cold_phases if phase in p]
        w = [p[phase] for p in warm_phases if phase in p]
        if c or w:
            print(f"  {phase:<38} {statistics.median(c) if c else float('nan'):>6.2f} {statistics.median(w) if w else float('nan'):>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
