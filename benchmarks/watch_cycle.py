"""The learner's loop in the app: watch mode on, main.go saved, the envoy step's verdict on screen;
against the raw script doing the same go build, Envoy start and request.

    python benchmarks/watch_cycle.py [--runs 7]

The real app (Pilot, headless, 100x32) on the shipped lab 01 with its solution, on the step "Run it
in Envoy", watch mode on (`w`). Each run saves main.go with a log text never built before, then waits
for the verdict's first frame. The raw script (benchmarks/raw_lab01.sh) runs on its own copy of the
folder, after the same kind of edit. Goal (DESIGN): at most 1.2x.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from check_cycle import NONCE, edit
from tui_check import Marks, instrument, time_frames, warm_check_process

from workshop.core import chain
from workshop.core.content import load_workshop

LAB = "01-first-filter"


async def in_the_app(runs: int) -> list[float]:
    from workshop.core import workspace
    from workshop.runs.session import Session
    from workshop.tui.app import WorkshopApp
    from workshop.tui.screens.main import MainScreen

    session = Session.open(None, os.environ["WORKSHOP_WORKSPACE"])
    lab = session.workshop.lab("01")
    session.workspace.mkdir(parents=True, exist_ok=True)
    workspace.start(session.workspace, lab)
    workspace.put(session.workspace, lab, chain.solution_files(lab), reason="solve")
    session.goto(lab, lab.steps[-1])
    main_go = session.lab_dir(lab) / "main.go"
    marks = Marks()
    instrument(marks)
    cycles: list[float] = []
    app = WorkshopApp(session)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        time_frames(screen, marks)
        await pilot.press("w")
        for n in range(runs + 1):  # the first run warms Go's cache and is not counted
            await warm_check_process()
            await pilot.pause(0.3)
            marks.reset()
            edit(main_go, 1000 + n)
            saved = time.perf_counter()
            while marks.verdict_shown is None:
                await asyncio.sleep(0.005)
            while screen.checking:
                await asyncio.sleep(0.005)
            row = screen.query_one("#checks").query(".line")
            if n:
                cycles.append(marks.verdict_shown - saved)
                print(f"  app run {n}: edit saved -> verdict shown {cycles[-1]:.2f} s "
                      f"(check shown running after {marks.running_shown - saved:.2f} s)", flush=True)
        assert "passed" in str([r.state for r in screen.query("CheckRow")]), row  # type: ignore[attr-defined]
        await pilot.press("q")
    return cycles


def raw(runs: int, folder: Path) -> list[float]:
    from workshop.env.envoy import find_envoy

    script, envoy = str(ROOT / "benchmarks" / "raw_lab01.sh"), str(find_envoy()[0])
    times = []
    for n in range(runs + 1):
        edit(folder / "main.go", 2000 + n)
        start = time.perf_counter()
        subprocess.run([script, str(folder), envoy], check=True, capture_output=True)
        if n:
            times.append(time.perf_counter() - start)
            print(f"  raw run {n}: {times[-1]:.2f} s", flush=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        for name in ("STATE", "DATA", "CACHE"):
            os.environ[f"WORKSHOP_{name}_DIR"] = f"{tmp}/{name.lower()}"
        os.environ["WORKSHOP_WORKSPACE"] = f"{tmp}/ws"
        app_t = asyncio.run(in_the_app(args.runs))
        chain.write_files(chain.solution_files(load_workshop(ROOT).lab(LAB)), Path(tmp) / "raw" / LAB)
        raw_t = raw(args.runs, Path(tmp) / "raw" / LAB)
    a, r = statistics.median(app_t), statistics.median(raw_t)
    print(f"raw script (build + Envoy up + request)   median {r:.2f} s")
    print(f"app, watch mode: edit saved -> verdict    median {a:.2f} s   (edit nonce {NONCE})")
    print(f"ratio {a / r:.2f}  (goal <= 1.2)")


if __name__ == "__main__":
    main()
