"""Check cycle of lab 01 (edit saved -> verdict) against the raw toolchain doing the same work.

Each run first edits main.go (a new log text), so both sides really rebuild, with a warm Go cache.
Prints the median of each side and their ratio (the goal is at most 1.2).

    python benchmarks/check_cycle.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAB = "01-first-filter"


def edit(main: Path, n: int) -> None:
    text = main.read_text()
    start = text.index('LogInfof("') + len('LogInfof("')
    end = text.index(":", start)
    main.write_text(text[:start] + f"wasm-workshop-{n}" + text[end:])


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{argv[0]} failed:\n{proc.stdout}\n{proc.stderr}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from workshop.env.envoy import find_envoy

    envoy_bin = str(find_envoy()[0])
    with tempfile.TemporaryDirectory(prefix="bench-cycle-") as tmp:
        ws = Path(tmp) / "ws"
        shutil.copytree(ROOT / "solutions" / LAB, ws / LAB)
        env = {**os.environ, "WORKSHOP_STATE_DIR": f"{tmp}/state", "WORKSHOP_CACHE_DIR": f"{tmp}/cache",
               "WORKSHOP_WORKSPACE": str(ws), "NO_COLOR": "1"}
        script = str(ROOT / "benchmarks" / "raw_lab01.sh")
        pairs = [
            ("step envoy: build + Envoy up + request", [script, str(ws / LAB), envoy_bin],
             [sys.executable, "-m", "workshop", "check", "01/envoy"]),
            ("whole lab: build + go test + Envoy up + request", [script, str(ws / LAB), envoy_bin, "with-test"],
             [sys.executable, "-m", "workshop", "check", "01"]),
        ]
        n = 0
        for title, raw, ours in pairs:
            timed(raw, env)  # warm the Go build cache and the page cache
            timed(ours, env)
            raw_t, ours_t = [], []
            for _ in range(args.runs):
                n += 1
                edit(ws / LAB / "main.go", n)
                raw_t.append(timed(raw, env))
                n += 1
                edit(ws / LAB / "main.go", n)
                ours_t.append(timed(ours, env))
            r, o = statistics.median(raw_t), statistics.median(ours_t)
            print(f"{title}\n  raw script       median {r:.2f} s  {[round(t, 2) for t in raw_t]}")
            print(f"  workshop {' '.join(ours[3:]):<8}median {o:.2f} s  {[round(t, 2) for t in ours_t]}")
            print(f"  ratio {o / r:.2f}  (goal <= 1.2)")


if __name__ == "__main__":
    main()
