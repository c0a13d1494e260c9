"""`workshop env up` for all services (Envoy, registry, httpbin), with local processes and with Docker.

Each run is the whole command as a learner types it (Python start included), from nothing running
to every service ready; `workshop env down` follows, untimed. Docker images are built once before
timing. Ports are free ones, and state and data live in a temporary folder, so a learner's services are
never touched. Prints the median of each backend (the goal with local processes: under 2 s).

    python benchmarks/env_up.py [--runs 5] [--backend process|docker|both]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def run(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=ROOT, check=False)
    return time.perf_counter() - start, proc


def bench(backend: str, runs: int, env: dict[str, str], cli: list[str]) -> list[float]:
    times = []
    for i in range(runs + 1):  # the first run builds images (Docker) and warms caches: not counted
        took, proc = run([*cli, "up", "--backend", backend, "--json"], env)
        if proc.returncode != 0:
            run([*cli, "down"], env)
            sys.exit(f"`env up --backend {backend}` failed:\n{proc.stdout}\n{proc.stderr}")
        inner = json.loads(proc.stdout)["seconds"]
        _, down = run([*cli, "down"], env)
        if down.returncode != 0:
            sys.exit(f"`env down` failed:\n{down.stderr}")
        if i:
            times.append(took)
            print(f"  {backend} run {i}: {took:.2f} s (services ready {inner:.2f} s after the command began its work)")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backend", choices=("process", "docker", "both"), default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-env-") as tmp:
        env = {**os.environ, "NO_COLOR": "1"}
        sys.path.insert(0, str(ROOT))
        from workshop.core.locations import tools_bin

        # the tools `workshop prepare` installed stay reachable through PATH; registry storage goes to tmp
        env["PATH"] = f"{tools_bin()}{os.pathsep}{env.get('PATH', '')}"
        for name in ("STATE", "DATA", "CACHE"):
            env[f"WORKSHOP_{name}_DIR"] = f"{tmp}/{name.lower()}"
        for name, port in zip(("ENVOY", "ENVOY_ADMIN", "REGISTRY", "HTTPBIN"), free_ports(4), strict=True):
            env[f"WORKSHOP_PORT_{name}"] = str(port)
        cli = [sys.executable, "-m", "workshop", "env"]
        results = {}
        for backend in ("process", "docker") if args.backend == "both" else (args.backend,):
            results[backend] = bench(backend, args.runs, env, cli)
    print()
    for backend, times in results.items():
        median = statistics.median(times)
        goal = "  (goal: under 2 s)" if backend == "process" else ""
        print(f"workshop env up, all services, {backend}: median {median:.2f} s over {len(times)} runs{goal}")
    if "process" in results and "docker" in results:
        print(f"docker / process: {statistics.median(results['docker']) / statistics.median(results['process']):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
