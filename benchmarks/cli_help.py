"""Time `workshop --help` and a few commands' --help: the reason the cli/ modules import lazily.

    python benchmarks/cli_help.py [--runs 5]

Each command is run --runs times as a fresh process (after one untimed run to warm the page cache);
the median wall time of each is printed (the goal: every median under 300 ms), and beside it the median
CPU time (user + system), which a busy machine disturbs less than the wall time. Also prints how many of
the project's own modules `workshop --help` loads, which is what grows when a command module imports eagerly.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time

GOAL_MS = 300.0
COMMANDS = [
    ["--help"],
    ["check", "--help"],
    ["grade", "--help"],
    ["room", "--help"],
    ["env", "up", "--help"],
    ["mesh", "--help"],
    ["selftest", "--help"],
]
COUNT_MODULES = ("import sys; from workshop.cli import main; sys.argv = ['workshop', '--help']\n"
                 "try:\n    main()\nexcept SystemExit:\n    pass\n"
                 "print(sum(1 for m in sys.modules if m.startswith('workshop')), file=sys.stderr)")


def once(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one `workshop ARGS`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "workshop", *args], capture_output=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    worst = 0.0
    for command in COMMANDS:
        once(command)  # warm
        runs = [once(command) for _ in range(args.runs)]
        median = statistics.median(wall for wall, _ in runs) * 1000
        cpu = statistics.median(used for _, used in runs) * 1000
        worst = max(worst, median)
        shown = " ".join(["workshop", *command])
        print(f"{shown:<28} median {median:4.0f} ms (cpu {cpu:4.0f} ms)  {[round(wall * 1000) for wall, _ in runs]}")
    loaded = subprocess.run([sys.executable, "-c", COUNT_MODULES], capture_output=True, text=True, check=True)
    print(f"`workshop --help` loads {loaded.stderr.strip()} of the project's modules")
    print(f"slowest median {worst:.0f} ms (goal < {GOAL_MS:.0f} ms): {'met' if worst < GOAL_MS else 'NOT met'}")
    return 0 if worst < GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
