"""Time from starting `workshop` (the app) to its first frame on screen, in a real terminal (tmux).

    python benchmarks/first_paint.py [--runs 7]

Also times `workshop --help`. Goals: first paint under 400 ms, --help under 300 ms.
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
TMUX = ["tmux", "-L", f"bench-paint-{os.getpid()}"]  # our own server, kept up by an idle session


def first_paint(tmp: Path, n: int) -> float:
    mark = tmp / f"paint-{n}"
    env_part = (f"WORKSHOP_STATE_DIR={tmp}/state WORKSHOP_WORKSPACE={tmp}/ws "
                f"WORKSHOP_EXIT_AFTER_FIRST_PAINT={mark} TERM=xterm-256color")
    session = f"paint-{n}"
    start = time.time()
    subprocess.run([*TMUX, "new-session", "-d", "-s", session, "-x", "100", "-y", "30",
                    f"env {env_part} {sys.executable} -m workshop"], check=True)
    try:
        deadline = time.monotonic() + 30
        while not mark.exists() or not mark.read_text().strip():
            if time.monotonic() > deadline:
                sys.exit("the app did not paint within 30 s")
            time.sleep(0.005)
        return float(mark.read_text().split()[1]) - start
    finally:
        subprocess.run([*TMUX, "kill-session", "-t", session], capture_output=True)


def help_time() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "workshop", "--help"], capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if not shutil.which("tmux"):
        sys.exit("needs tmux")
    subprocess.run([*TMUX, "new-session", "-d", "-s", "idle", "sleep 600"], check=True)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-paint-") as tmp:
            first_paint(Path(tmp), 0)  # warm the page cache
            paints = [first_paint(Path(tmp), n) for n in range(1, args.runs + 1)]
    finally:
        subprocess.run([*TMUX, "kill-server"], capture_output=True)
    helps = [help_time() for _ in range(args.runs)]
    print(f"first paint   median {statistics.median(paints) * 1000:.0f} ms  {[round(p * 1000) for p in paints]}  (goal < 400 ms)")
    print(f"--help        median {statistics.median(helps) * 1000:.0f} ms  {[round(h * 1000) for h in helps]}  (goal < 300 ms)")


if __name__ == "__main__":
    main()
