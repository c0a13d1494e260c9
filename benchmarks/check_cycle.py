"""Check cycle of lab 01 (edit saved -> verdict) against the raw toolchain doing the same work.

Each run first edits main.go (a log text never built before), so both sides really rebuild, with a
warm Go cache. Prints the median of each side and their ratio (the goal is at most 1.2).

Three comparisons: the envoy step against build + Envoy up + request; the whole lab against that same
script (what the issue names); and the whole lab against a script doing all the tool work its checks
do (build, the wasmtime compile that inspects the module, go test, go test against two rewritten SDKs,
Envoy up, request), which measures what the workshop adds.

    python benchmarks/check_cycle.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAB = "01-first-filter"


NONCE = os.urandom(4).hex()  # the Go cache never holds an earlier run's edit


def edit(main: Path, n: int) -> None:
    text = main.read_text()
    start = text.index('LogInfof("') + len('LogInfof("')
    end = text.index(":", start)
    main.write_text(text[:start] + f"wasm-workshop-{NONCE}-{n}" + text[end:])


VERDICT_LINE = re.compile(r"^(verdict: |  \S )")  # the raw script's last line; a check's verdict line


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds until the last verdict line was shown, seconds until the command exited)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shown = 0.0
    assert proc.stdout is not None
    for line in proc.stdout:
        if VERDICT_LINE.match(line):
            shown = time.perf_counter() - start
    err = proc.stderr.read() if proc.stderr else ""
    took = time.perf_counter() - start
    if proc.wait() != 0 or not shown:
        sys.exit(f"{argv[0]} failed (or showed no verdict):\n{err}")
    return shown, took


def mutated_sdks(lab: Path, root: Path) -> list[str]:
    """The two SDK copies lab 01's unit-test checks build against, made once as the workshop makes them."""
    from workshop.checking import mutants

    listed = subprocess.run(["go", "list", "-m", "-f", "{{.Dir}}", mutants.SDK], cwd=lab, capture_output=True, text=True,
                            check=True).stdout
    sdk = mutants.sdk_folder(listed, lab)
    assert sdk is not None, listed
    return [str(mutants.mutated_sdk(m, sdk, root)) for m in (mutants.ADDS_NO_RESPONSE_HEADER,
                                                             mutants.sets_exactly("x-wasm-workshop", "hello"))]


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
            ("whole lab against build + Envoy up + request", [script, str(ws / LAB), envoy_bin],
             [sys.executable, "-m", "workshop", "check", "01"]),
            ("whole lab against the same tool work (+ inspect, go test, mutant go test)",
             [script, str(ws / LAB), envoy_bin, "same-work", *mutated_sdks(ws / LAB, Path(tmp) / "sdks")],
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
            print(title)
            for i, what in ((0, "edit saved -> verdict shown"), (1, "edit saved -> command exited")):
                r = statistics.median(t[i] for t in raw_t)
                o = statistics.median(t[i] for t in ours_t)
                print(f"  {what}: raw script median {r:.2f} s {[round(t[i], 2) for t in raw_t]}")
                print(f"  {' ' * len(what)}  workshop {' '.join(ours[3:]):<9} median {o:.2f} s {[round(t[i], 2) for t in ours_t]}")
                print(f"  {' ' * len(what)}  ratio {o / r:.2f}  (goal <= 1.2)")


if __name__ == "__main__":
    main()
