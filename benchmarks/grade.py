"""Grading throughput: `workshop grade` of 20 copies of a lab-01 submission with --jobs 2, against the
ideal that 20 single `workshop check 01` runs allow. Goal: ratio <= 1.3.

The ideal comes from the cores the checks actually use: a check's Go build runs on every core, so
two at a time cannot take half the time of one after another. The serial run's CPU time (user +
system of every process it waited for, from getrusage) divided by the machine's cores is as fast as
any grader could go; the serial time divided by --jobs is as fast as --jobs at once could go; the
ideal is the larger of the two.

    python benchmarks/grade.py [--copies 20] [--jobs 2] [--repeat 3] [--sandbox docker|none]

Both sides are warmed first (one untimed run each: Go's build cache, the sandbox image and its
seeded Go cache), so the figures are steady-state, as in a class where the instructor grades
after the learners have run their checks. With --repeat N both sides are timed N times, in turns,
and the medians are compared (the machine is shared: one run can be disturbed).

The ratio assumes --jobs free cores: check the load (`uptime`) before trusting it.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workshop.core import chain
from workshop.core.content import load_workshop

ROOT = Path(__file__).resolve().parent.parent
LAB = "01-first-filter"


def workshop(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workshop", *args], capture_output=True, text=True, env=env, timeout=1800, check=False)


def cpu_of_children() -> float:
    """CPU seconds (user + system) of every child process waited for so far, and of theirs."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def time_checks(copies: list[Path], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of checking every copy, one after another."""
    started, cpu = time.monotonic(), cpu_of_children()
    for ws in copies:
        proc = workshop("check", "01", "--workspace", str(ws), env=env)
        if proc.returncode != 0:
            raise SystemExit(f"`workshop check 01` failed on {ws}:\n{proc.stdout[-2000:]}")
    return time.monotonic() - started, cpu_of_children() - cpu


def ideal(serial: float, cpu: float, jobs: int, cores: int) -> float:
    """As fast as grading could go: no faster than --jobs checks at their serial pace, nor than the CPU
    the checks need spread over every core."""
    return max(serial / jobs, cpu / cores)


def time_grade(copies: list[Path], grade_args: list[str], jobs: int, env: dict[str, str]) -> float:
    started = time.monotonic()
    proc = workshop(*grade_args, "--jobs", str(jobs), "--min-score", "100", *map(str, copies), env=env)
    if proc.returncode != 0:
        raise SystemExit(f"grading failed ({proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="time each side N times and compare the medians")
    parser.add_argument("--sandbox", choices=("docker", "none"), default=None, help="default: docker when an engine answers")
    args = parser.parse_args()
    from workshop.env.sandbox import engine_answers

    sandbox = args.sandbox or ("docker" if engine_answers() else "none")
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp_name:
        tmp = Path(tmp_name)
        content = tmp / "content"  # lab 01 alone: other labs being written do not matter here
        for part, src in (("labs", ROOT / "labs" / LAB), ("checks", ROOT / "checks" / LAB), ("solutions", ROOT / "solutions" / LAB)):
            (content / part).mkdir(parents=True)
            (content / part / LAB).symlink_to(src)
        env = {**os.environ, "WORKSHOP_STATE_DIR": str(tmp / "state"), "WORKSHOP_CONTENT": str(content), "NO_COLOR": "1"}
        copies = []
        for n in range(args.copies + 1):
            ws = tmp / "class" / f"learner-{n:02d}"
            chain.write_files(chain.solution_files(load_workshop(ROOT).lab(LAB)), ws / LAB)
            copies.append(ws)
        warm, copies = copies[0], copies[1:]
        grade_args = ["grade", "--labs", "01", "--sandbox", sandbox, "--quiet"]

        if workshop("check", "01", "--workspace", str(warm), env=env).returncode != 0:
            print("the warm-up `workshop check 01` failed: run `workshop doctor`", file=sys.stderr)
            return 1
        warmed = workshop(*grade_args, str(warm), env=env)
        if warmed.returncode != 0:
            print(f"the warm-up grade failed:\n{warmed.stdout[-2000:]}{warmed.stderr[-2000:]}", file=sys.stderr)
            return 1
        cores = os.cpu_count() or 1
        checks_runs: list[float] = []
        cpu_runs: list[float] = []
        grade_runs: list[float] = []
        for n in range(max(1, args.repeat)):
            fresh = []  # each round checks and grades copies no one has built yet
            for ws in copies:
                again = tmp / f"round-{n}" / ws.name
                chain.write_files(chain.solution_files(load_workshop(ROOT).lab(LAB)), again / LAB)
                fresh.append(again)
            serial, cpu = time_checks(fresh, env)
            checks_runs.append(serial)
            cpu_runs.append(cpu)
            grade_runs.append(time_grade(fresh, grade_args, args.jobs, env))
            print(f"round {n + 1}: checks {serial:.1f} s ({cpu:.1f} s of CPU), grade {grade_runs[-1]:.1f} s, "
                  f"ratio {grade_runs[-1] / ideal(serial, cpu, args.jobs, cores):.2f}", flush=True)

    checks, graded, cpu = statistics.median(checks_runs), statistics.median(grade_runs), statistics.median(cpu_runs)
    best = ideal(checks, cpu, args.jobs, cores)
    ratio = graded / best
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.copies} x `workshop check 01`:               {checks:7.1f} s  ({checks / args.copies:.2f} s each)")
    print(f"  their CPU time: {cpu:.1f} s, so a check keeps {cpu / checks:.2f} of the {cores} cores busy")
    print(f"  ideal: max(serial / {args.jobs} jobs = {checks / args.jobs:.1f} s, CPU / {cores} cores = {cpu / cores:.1f} s)"
          f" = {best:.1f} s")
    print(f"`workshop grade` of {args.copies} copies, --jobs {args.jobs}, --sandbox {sandbox}: {graded:7.1f} s "
          f"({graded / args.copies:.2f} s per submission)")
    print(f"ratio grade / ideal: {ratio:.2f}  (goal <= 1.3: {'met' if ratio <= 1.3 else 'NOT met'}); "
          f"medians of {len(grade_runs)} round(s); load average {load:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
