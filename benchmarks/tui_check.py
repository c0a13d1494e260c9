"""Key press to feedback in the app: from pressing `c` to the first check shown as running, and to the
first verdict shown.

    python benchmarks/tui_check.py [--runs 7] [--starter]

The real app (Pilot, headless, 100x32) on the shipped lab 01, step 1, with its solution applied (a
real Go build; `--starter` checks the starter instead). Before each press the check process started
ahead of time must be warm (started and idle, waiting for its job), as it is when a learner presses `c`
after reading the step. "Shown" is the first screen update (compositor refresh) after the change, the
frame the terminal receives. Goal: running shown under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from workshop.core import chain

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Marks:
    """When the first row went to running and to a verdict, and when each change reached the screen."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.running: float | None = None
        self.running_shown: float | None = None
        self.verdict: float | None = None
        self.verdict_shown: float | None = None

    def painted(self) -> None:
        now = time.perf_counter()
        if self.running is not None and self.running_shown is None:
            self.running_shown = now
        if self.verdict is not None and self.verdict_shown is None:
            self.verdict_shown = now


def instrument(marks: Marks) -> None:
    from workshop.tui.widgets.checks.check_panel import CheckRow

    running, show = CheckRow.running, CheckRow.show

    def timed_running(row: CheckRow) -> None:
        running(row)
        if marks.running is None:
            marks.running = time.perf_counter()

    def timed_show(row: CheckRow, verdict: object) -> None:
        show(row, verdict)  # type: ignore[arg-type]
        if marks.verdict is None:
            marks.verdict = time.perf_counter()

    CheckRow.running = timed_running  # type: ignore[method-assign]
    CheckRow.show = timed_show  # type: ignore[method-assign]


def time_frames(screen: object, marks: Marks) -> None:
    """Mark every frame ``screen`` sends to the terminal (its compositor refresh) in ``marks``."""
    refresh = screen._compositor_refresh  # type: ignore[attr-defined]

    def timed_refresh() -> None:
        refresh()
        marks.painted()

    screen._compositor_refresh = timed_refresh  # type: ignore[attr-defined]


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


async def warm_check_process(timeout: float = 60.0) -> None:
    """Until the check process started ahead of time is up and idle (its imports done)."""
    from workshop.runs import checks

    deadline = time.monotonic() + timeout
    last, still_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        warm = checks._warm
        if warm is not None and warm.alive():
            ticks = _cpu_ticks(warm.proc.pid)
            if ticks != last:
                last, still_since = ticks, time.monotonic()
            elif time.monotonic() - still_since > 0.4:
                return
        await asyncio.sleep(0.05)
    sys.exit("the check process did not become ready in time")


async def measure(runs: int, starter: bool) -> tuple[list[float], list[float], list[float]]:
    from workshop.core import workspace
    from workshop.runs.session import Session
    from workshop.tui.app import WorkshopApp
    from workshop.tui.screens.main import MainScreen

    session = Session.open(None, os.environ["WORKSHOP_WORKSPACE"])
    lab = session.workshop.labs[0]
    session.workspace.mkdir(parents=True, exist_ok=True)
    workspace.start(session.workspace, lab)
    if not starter:
        workspace.put(session.workspace, lab, chain.solution_files(lab), reason="solve")
    session.goto(lab, lab.steps[0])
    marks = Marks()
    instrument(marks)
    to_running: list[float] = []
    to_verdict: list[float] = []
    to_done: list[float] = []
    app = WorkshopApp(session)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        time_frames(screen, marks)
        for n in range(runs + 1):  # the first run warms Go's cache and is not counted
            await warm_check_process()
            await pilot.pause(0.2)
            marks.reset()
            pressed = time.perf_counter()
            await pilot.press("c")
            while screen.checking or not screen.query_one("#checks").query(".line"):
                await asyncio.sleep(0.005)
            done = time.perf_counter()  # the step's last verdict is in (polled every 5 ms)
            while marks.verdict_shown is None:
                await asyncio.sleep(0.005)
            assert marks.running_shown is not None
            if n:
                to_running.append(marks.running_shown - pressed)
                to_verdict.append(marks.verdict_shown - pressed)
                to_done.append(done - pressed)
                print(f"  run {n}: running shown {to_running[-1] * 1000:6.1f} ms, first verdict shown "
                      f"{to_verdict[-1] * 1000:7.1f} ms, all verdicts in {to_done[-1] * 1000:7.1f} ms", flush=True)
        await pilot.press("q")
    return to_running, to_verdict, to_done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--starter", action="store_true", help="check the starter (a failing verdict) instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tui-check-") as tmp:
        for name in ("STATE", "DATA"):  # the learner's progress and services are never touched
            os.environ[f"WORKSHOP_{name}_DIR"] = f"{tmp}/{name.lower()}"
        os.environ["WORKSHOP_WORKSPACE"] = f"{tmp}/ws"
        running, verdict, done = asyncio.run(measure(args.runs, args.starter))
    print(f"c -> first check shown running  median {statistics.median(running) * 1000:6.1f} ms  "
          f"(min {min(running) * 1000:.1f}, max {max(running) * 1000:.1f})  goal < 100 ms")
    print(f"c -> first verdict shown        median {statistics.median(verdict) * 1000:6.1f} ms  "
          f"(min {min(verdict) * 1000:.1f}, max {max(verdict) * 1000:.1f})")
    print(f"c -> all the step's verdicts in median {statistics.median(done) * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
