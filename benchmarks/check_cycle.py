"""Check cycle of lab 01 (edit saved -> verdict) against the raw toolchain doing the same work.

Each run first edits main.go (a log text never built before), so both sides really rebuild, with a
warm Go cache. Prints the median of each side and their ratio (the goals: the envoy step at most
0.8x the script; the whole lab at most 1.0x the script doing the same tool work, 1.2x the other).

Three comparisons: the envoy step against build + Envoy up + request; the whole lab against that same
script (what the issue names); and the whole lab against a script doing all the tool work its checks
do (build, the wasmtime compile that inspects the module, go test, go test against two rewritten SDKs,
Envoy up, request), which measures what the workshop adds. Two more (4, 5) take the path of watch
mode and the app: the first and the third again, with the checks run by the warm check worker of
this process (Session.check, as the app runs them on a save; the worker warmed for the lab before
the edit, as the app has it between saves), from the edit saved to the last verdict handed over. The script's wasmtime compile runs under
the interpreter this benchmark runs under (a virtualenv's, as the README installs the workshop).

The two sides run in turns (raw, workshop, raw, workshop...), so a shared machine's load hits both
alike. Where the time goes, phase by phase (medians): the script's from its `phase:` lines, the
workshop's from when each of its lines appears (Python start and reading the content until "Checking
lab", then each verdict line), and from one `--json` run per comparison, each check's own time and
the part of it its tools took (go, Envoy, requests).

    python benchmarks/check_cycle.py [--runs 5] [--only 1,2,3,4,5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from workshop.core import chain
from workshop.core.content import load_workshop

ROOT = Path(__file__).resolve().parent.parent
LAB = "01-first-filter"


NONCE = os.urandom(4).hex()  # the Go cache never holds an earlier run's edit


def edit(main: Path, n: int) -> None:
    text = main.read_text()
    start = text.index('LogInfof("') + len('LogInfof("')
    end = text.index(":", start)
    main.write_text(text[:start] + f"wasm-workshop-{NONCE}-{n}" + text[end:])


VERDICT_LINE = re.compile(r"^(verdict: |  \S )")  # the raw script's last line; a check's verdict line
PHASE_LINE = re.compile(r"^(phase: (?P<phase>.+)|(?P<lab>Checking lab)|  \S (?P<check>\S+)  )")


@dataclass
class Timed:
    shown: float  # edit saved -> the last verdict line shown
    took: float  # edit saved -> the command exited
    phases: dict[str, float]  # each phase's own seconds, in the order they came


def timed(argv: list[str], env: dict[str, str]) -> Timed:
    """Run one side once; when each line came says where its time went."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shown, last = 0.0, 0.0
    phases: dict[str, float] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        now = time.perf_counter() - start
        m = PHASE_LINE.match(line)
        if m:
            name = m.group("phase") or (m.group("check") and f"check {m.group('check')}") or "python start, content read"
            phases[name] = now - last
            last = now
        if VERDICT_LINE.match(line):
            shown = now
            if line.startswith("verdict: "):
                phases["request, verdict"] = now - last
                last = now
    err = proc.stderr.read() if proc.stderr else ""
    took = time.perf_counter() - start
    phases["exit (stop Envoy, write progress)"] = took - last
    if proc.wait() != 0 or not shown:
        sys.exit(f"{argv[0]} failed (or showed no verdict):\n{err}")
    return Timed(shown, took, phases)


def timed_warm(target: str) -> Timed:
    """The watch-mode side once: the session's check through the warm worker; phases from its events."""
    from workshop.checking import model
    from workshop.runs import checks
    from workshop.runs.session import Session

    session = Session.open(None, os.environ["WORKSHOP_WORKSPACE"])
    lab, step = session.resolve(target)
    phases: dict[str, float] = {}
    marks = {"last": 0.0, "shown": 0.0}
    start = time.perf_counter()

    def on_event(event: model.Event) -> None:
        now = time.perf_counter() - start
        if isinstance(event, model.Started) and not phases:
            phases["hand-off to the warm worker, until the first check starts"] = now
            marks["last"] = now
        elif isinstance(event, model.Finished):
            phases[f"check {event.verdict.step}/{event.verdict.name}"] = now - marks["last"]
            marks["last"] = marks["shown"] = now

    run = session.check(lab, step, on_event=on_event)
    took = time.perf_counter() - start
    checks.prewarm(lab)  # as the app does after each check, while the learner reads the verdict
    phases["after the last verdict (progress written)"] = took - marks["last"]
    if not run.passed:
        sys.exit(f"the warm side failed: {[(v.name, v.message) for v in run.verdicts]}")
    return Timed(marks["shown"], took, phases)


def check_times(argv: list[str], env: dict[str, str]) -> tuple[float, dict[str, tuple[float, float]]]:
    """One `--json` run: (the run's seconds, {check: (its seconds, of them the tools' seconds)})."""
    proc = subprocess.run([*argv, "--json"], env=env, capture_output=True, text=True, check=False)
    report = json.loads(proc.stdout)
    return report["seconds"], {f"{v['step']}/{v['name']}": (v["seconds"], v["tool_seconds"]) for v in report["verdicts"]}


def show_phases(raw: list[Timed], ours: list[Timed], report: tuple[float, dict[str, tuple[float, float]]] | None) -> None:
    print("  where the time goes (median seconds of each phase):")
    for side, runs in (("raw script", raw), ("workshop", ours)):
        names = list(dict.fromkeys(name for t in runs for name in t.phases))
        for name in names:
            values = [t.phases[name] for t in runs if name in t.phases]
            print(f"    {side:<10} {name:<68} {statistics.median(values):6.2f}")
    if report is None:
        return
    seconds, checks = report
    own = seconds - sum(s for s, _ in checks.values())
    print(f"  one `--json` run: the runner {seconds:.2f} s, of which between and around checks (pytest start, collection) {own:.2f} s")
    for name, (took, tools) in checks.items():
        print(f"    {name:<72} {took:6.2f} s, tools {tools:5.2f} s, the check's own {took - tools:5.2f} s")


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
    parser.add_argument("--only", default="1,2,3,4,5", metavar="N,N", help="which comparisons to run (default all five)")
    args = parser.parse_args()
    from workshop.env.envoy import find_envoy

    envoy_bin = str(find_envoy()[0])
    with tempfile.TemporaryDirectory(prefix="bench-cycle-") as tmp:
        ws = Path(tmp) / "ws"
        chain.write_files(chain.solution_files(load_workshop(ROOT).lab(LAB)), ws / LAB)
        env = {**os.environ, "WORKSHOP_STATE_DIR": f"{tmp}/state", "WORKSHOP_CACHE_DIR": f"{tmp}/cache",
               "WORKSHOP_WORKSPACE": str(ws), "NO_COLOR": "1", "PYTHON": sys.executable,
               "PYTHONUNBUFFERED": "1"}  # each line as it comes, as a terminal shows it
        script = str(ROOT / "benchmarks" / "raw_lab01.sh")
        os.environ.update(env)  # the warm side runs in this process
        same_work = [script, str(ws / LAB), envoy_bin, "same-work", *mutated_sdks(ws / LAB, Path(tmp) / "sdks")]
        pairs: list[tuple[str, list[str], list[str] | str, float]] = [
            ("step envoy: build + Envoy up + request", [script, str(ws / LAB), envoy_bin],
             [sys.executable, "-m", "workshop", "check", "01/envoy"], 0.8),
            ("whole lab against build + Envoy up + request", [script, str(ws / LAB), envoy_bin],
             [sys.executable, "-m", "workshop", "check", "01"], 1.2),
            ("whole lab against the same tool work (+ inspect, go test, mutant go test)", same_work,
             [sys.executable, "-m", "workshop", "check", "01"], 1.0),
            ("watch mode, step envoy, warm worker: build + Envoy up + request", [script, str(ws / LAB), envoy_bin],
             "01/envoy", 0.8),
            ("watch mode, whole lab, warm worker, against the same tool work", same_work, "01", 1.0),
        ]
        n = 0
        wanted = {int(x) for x in args.only.split(",") if x.strip()}
        for title, raw, ours, goal in [pair for k, pair in enumerate(pairs, 1) if k in wanted]:

            def side(ours: list[str] | str = ours) -> Timed:
                if isinstance(ours, str):
                    return timed_warm(ours)
                return timed(ours, env)

            timed(raw, env)  # warm the Go build cache and the page cache
            side()
            raw_t: list[Timed] = []
            ours_t: list[Timed] = []
            for _ in range(args.runs):
                n += 1
                edit(ws / LAB / "main.go", n)
                raw_t.append(timed(raw, env))
                n += 1
                edit(ws / LAB / "main.go", n)
                ours_t.append(side())
            n += 1
            edit(ws / LAB / "main.go", n)
            report = check_times(ours, env) if isinstance(ours, list) else None
            print(title)
            for attr, what in (("shown", "edit saved -> verdict shown"), ("took", "edit saved -> command exited")):
                r = statistics.median(getattr(t, attr) for t in raw_t)
                o = statistics.median(getattr(t, attr) for t in ours_t)
                print(f"  {what}: raw script median {r:.2f} s {[round(getattr(t, attr), 2) for t in raw_t]}")
                name = " ".join(ours[3:]) if isinstance(ours, list) else f"warm {ours}"
                print(f"  {' ' * len(what)}  workshop {name:<9} median {o:.2f} s "
                      f"{[round(getattr(t, attr), 2) for t in ours_t]}")
                print(f"  {' ' * len(what)}  ratio {o / r:.2f}  (goal <= {goal})")
            show_phases(raw_t, ours_t, report)
            print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)


if __name__ == "__main__":
    main()
