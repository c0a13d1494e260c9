"""Each lab's check time against the raw tool time it wraps.

For every lab: a workspace with the lab's solution, what the learner keeps running started the way
they would (the lab's `runs:`), its services up; then `workshop check NN` several times. The checks
report how long the tools they wrap took (go, Envoy starts and stops, HTTP requests: what a shell
script doing the same would spend); the rest is the runner's own cost.

    python benchmarks/lab_checks.py [--runs 3] [--labs 01,02]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workshop.core import chain

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--labs", default="", help="comma-separated lab ids (default: all)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-labs-") as tmp:
        for name in ("STATE", "DATA", "CACHE"):
            os.environ[f"WORKSHOP_{name}_DIR"] = f"{tmp}/{name.lower()}"
        os.environ["WORKSHOP_SERVICES"] = "owned"
        from workshop.core.content import load_workshop
        from workshop.env import services
        from workshop.env.learner import running

        labs = load_workshop(ROOT).labs
        wanted = {x.strip() for x in args.labs.split(",") if x.strip()}
        print(f"{'lab':<24}{'check (median)':>16}{'tools inside':>14}{'ratio':>8}")
        try:
            for lab in labs:
                if wanted and lab.id not in wanted:
                    continue
                ws = Path(tmp) / "ws"
                chain.write_files(chain.solution_files(lab), ws / lab.slug)
                if lab.services:
                    services.ensure(lab.services)
                walls, tools = [], []
                with running(lab, ws / lab.slug):
                    for _ in range(args.runs + 1):
                        start = time.perf_counter()
                        out = subprocess.run([sys.executable, "-m", "workshop", "check", lab.id, "--json", "--workspace", str(ws)],
                                             capture_output=True, text=True)
                        wall = time.perf_counter() - start
                        data = json.loads(out.stdout)
                        if data["summary"]["passed"] != data["summary"]["checks"]:
                            sys.exit(f"lab {lab.id}: the solution did not pass:\n{out.stdout[-2000:]}")
                        walls.append(wall)
                        tools.append(sum(v["tool_seconds"] for v in data["verdicts"]))
                w, t = statistics.median(walls[1:]), statistics.median(tools[1:])  # the first run warms caches
                print(f"{lab.slug:<24}{w:>14.2f} s{t:>12.2f} s{w / t:>8.2f}")
        finally:
            services.stop_owned()


if __name__ == "__main__":
    main()
