"""Run a lab's checks in a child pytest process and stream one verdict per check.

Learner code can hang or crash; the runner must not. The checks run in a fork of the warm check
worker (runs/worker.py, checking/warm.py: pytest and the lab's checks loaded once), which reports
each check's start and result as JSON lines on a pipe. If a check overruns its time limit (plus a
grace period for the child's own watchdog), the runner stops the fork's process group, records the
check as timed out, and starts a new fork for the checks that have not run yet.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from workshop.checking import model
from workshop.checking.model import Check
from workshop.core.atomic import write_atomic
from workshop.core.content import Lab
from workshop.core.locations import cache_dir
from workshop.core.verdict import ERROR, TIMED_OUT, Verdict
from workshop.env import supervisor
from workshop.runs.worker import Worker, WorkerGone, key_of, output_of

GRACE = 10.0  # seconds past a check's own limit before the runner kills the child
Listener = Callable[[model.Event], None]


@dataclass
class CheckRun:
    """The outcome of running some checks of one lab."""

    lab: Lab
    verdicts: list[Verdict] = field(default_factory=list)
    collected: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.verdicts) and all(v.passed for v in self.verdicts)


_warm: Worker | None = None  # the worker waiting for the next cycle
_lock = threading.Lock()


def prewarm(lab: Lab | None = None) -> None:
    """Have a worker ready for the next run, with ``lab``'s checks loaded when it is named, so the next
    cycle waits neither for Python and pytest to load nor for the checks to be collected."""
    global _warm
    with _lock:
        if _warm is not None and (not _warm.alive() or (lab is not None and _warm.key not in ("", key_of(lab)))):
            _warm.stop()
            _warm = None
        if _warm is None:
            _warm = Worker.start()
        if lab is not None and not _warm.key:
            _warm.load(lab)


def discard_warm() -> None:
    global _warm
    with _lock:
        if _warm is not None:
            _warm.stop()
            _warm = None


atexit.register(discard_warm)


def _take_worker(lab: Lab) -> Worker:
    """The waiting worker if it serves ``lab`` (or no lab yet), else a new one."""
    global _warm
    with _lock:
        taken, _warm = _warm, None
    if taken is not None and taken.alive() and taken.key in ("", key_of(lab)):
        return taken
    if taken is not None:
        taken.stop()
    return Worker.start()


def _give_back(worker: Worker) -> None:
    """Keep the worker for the next cycle (one waits at a time; ``prewarm(lab)`` has it load the lab's
    checks, as the app does after each check); stop it when another already waits."""
    global _warm
    with _lock:
        if _warm is None and worker.alive():
            _warm = worker
            return
    worker.stop()


def run_checks(
    lab: Lab, workspace: Path, steps: list[str] | None = None, on_event: Listener | None = None,
    timeout: float | None = None,
) -> CheckRun:
    """Run the checks of ``lab`` (or only of ``steps``) against ``workspace``."""
    supervisor.reap()
    result = CheckRun(lab=lab)
    started = time.monotonic()
    emit = on_event or (lambda e: None)
    done: set[str] = set()
    while True:
        finished = _run_child(lab, workspace, steps or [], sorted(done), timeout, result, emit)
        done.update(v.nodeid for v in result.verdicts)
        if finished:
            break
    if not steps and result.collected:
        _remember(lab, result.collected)  # the app shows these at once next time
    result.seconds = time.monotonic() - started
    return result


def _run_child(
    lab: Lab, workspace: Path, steps: list[str], deselect: list[str], timeout: float | None,
    result: CheckRun, emit: Listener,
) -> bool:
    """One cycle in a fork of the warm worker; returns False when it had to be stopped (or died inside
    a check) and the rest must run in a new one."""
    argv = model.pytest_args(lab.checks_dir, lab.root, [s.id for s in lab.steps], workspace=workspace, steps=steps,
                             deselect=deselect, timeout=timeout)
    worker = _take_worker(lab)
    try:
        cycle = worker.begin(argv, str(workspace) if workspace.is_dir() else "")
    except WorkerGone:  # it died while it waited: a new one runs this cycle
        worker.stop()
        worker = _take_worker(lab)
        cycle = worker.begin(argv, str(workspace) if workspace.is_dir() else "")
    try:
        current, overran = _read_events(cycle.events, result, emit)
        code = worker.end(kill=overran)
    except BaseException:
        worker.stop()
        raise
    child_output = output_of(cycle)
    if code is None:
        worker.stop()  # it died under the cycle: the next cycle gets a new one
    else:
        _give_back(worker)
    if overran and current:
        verdict = current.verdict(TIMED_OUT, f"the check did not finish within its {current.timeout:g} s limit")
        verdict.hint = "does your code loop forever or wait for something that never comes?"
        verdict.seconds = current.timeout
        _record(verdict, result, emit)
        return False
    if current:  # the check process died inside a check
        verdict = current.verdict(ERROR, "the check process died while running this check")
        verdict.seconds = current.timeout
        verdict.output = "\n".join(child_output.splitlines()[-15:])
        _record(verdict, result, emit)
        return False
    if code not in (0, 1, 5) and not result.verdicts:
        raise RuntimeError(f"the checks of lab {lab.id} could not run (pytest exit {code}):\n{child_output[-2000:]}")
    return True


def _read_events(read_fd: int, result: CheckRun, emit: Listener) -> tuple[Check | None, bool]:
    """Take the cycle's events until its pipe closes; (the check still running, whether it overran its limit)."""
    current: Check | None = None
    current_deadline = 0.0
    buffer = b""
    while True:
        wait = max(0.05, current_deadline - time.monotonic()) if current else 1.0
        ready, _, _ = select.select([read_fd], [], [], wait)
        if ready:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                return current, False  # the fork closed the pipe: it has exited
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                event = model.from_line(line)
                if event is not None:
                    current, current_deadline = _handle(event, result, emit, current, current_deadline)
        elif current and time.monotonic() > current_deadline:
            return current, True


def _handle(event: model.Event, result: CheckRun, emit: Listener, current: Check | None,
            deadline: float) -> tuple[Check | None, float]:
    if isinstance(event, model.Collected):
        known = {c.nodeid for c in result.collected}
        result.collected += [c for c in event.checks if c.nodeid not in known]
        emit(event)
    elif isinstance(event, model.Started):
        emit(event)
        return event.check, time.monotonic() + event.check.timeout + GRACE
    else:
        _record(event.verdict, result, emit)
        return None, 0.0
    return current, deadline


def _record(verdict: Verdict, result: CheckRun, emit: Listener) -> None:
    result.verdicts.append(verdict)
    emit(model.Finished(verdict))


# ---------------------------------------------------------------- a lab's checks, known before they run


@dataclass
class Catalog:
    """What collecting a lab's checks found: the checks, or what pytest said when it could not."""

    checks: list[Check]
    problem: str = ""


def collect(lab: Lab) -> Catalog:
    """The lab's checks as pytest collects them (the one way a check is known), in the lab's step order."""
    worker = Worker.start()  # its own: collections may run in several threads at once
    argv = model.pytest_args(lab.checks_dir, lab.root, [s.id for s in lab.steps], collect_only=True)
    found: list[Check] = []
    try:
        cycle = worker.begin(argv, "")
        with os.fdopen(os.dup(cycle.events), "rb", closefd=True) as events:
            for line in events:
                event = model.from_line(line)
                if isinstance(event, model.Collected):
                    found = event.checks
        code = worker.end()
        said = output_of(cycle)
    except WorkerGone as exc:
        code, said = None, str(exc)
    finally:
        worker.stop()
    problem = "" if code in (0, 5) else said[-2000:] or f"pytest exited with {code}"
    if not problem:
        _remember(lab, found)
    return Catalog(found, problem)


def _catalog_path(lab: Lab) -> Path:
    """Where the last collection of ``lab`` is kept: named after its check files' names, sizes and times."""
    stamp = [str(lab.lab_md.stat().st_mtime_ns)] if lab.lab_md.exists() else []
    for f in sorted(lab.checks_dir.glob("*.py")) if lab.checks_dir.is_dir() else []:
        st = f.stat()
        stamp.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    key = hashlib.sha256("|".join([str(lab.checks_dir.resolve()), *stamp]).encode()).hexdigest()[:24]
    return cache_dir() / "checks" / f"{key}.json"


def _remember(lab: Lab, checks: list[Check]) -> None:
    write_atomic(_catalog_path(lab), json.dumps([c.to_dict() for c in checks]))


def known_checks(lab: Lab) -> list[Check] | None:
    """The lab's checks from the last time they were all collected, if its check files have not changed since."""
    try:
        return [Check.from_dict(c) for c in json.loads(_catalog_path(lab).read_text())]
    except (OSError, ValueError, TypeError):
        return None
