"""Run a lab's checks in a child pytest process and stream one verdict per check.

Learner code can hang or crash; the runner must not. The child reports each check's start and
result as JSON lines on a pipe. If a check overruns its time limit (plus a grace period for the
child's own watchdog), the runner kills the child's process group, records the check as timed
out, and starts a new child for the checks that have not run yet.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workshop.checking import model
from workshop.checking.model import Check
from workshop.core.content import Lab
from workshop.core.verdict import ERROR, TIMED_OUT, Verdict

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


@dataclass
class CheckProcess:
    """A pytest process waiting for its job, with the read end of its event pipe and its output file."""

    proc: subprocess.Popen[bytes]
    events: int
    log: Any

    def alive(self) -> bool:
        return self.proc.poll() is None


_warm: CheckProcess | None = None


def _spawn_check_process() -> CheckProcess:
    from workshop.env import supervisor

    read_fd, write_fd = os.pipe()
    env = {**os.environ, "WORKSHOP_EVENTS_FD": str(write_fd), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
           "PYTHONDONTWRITEBYTECODE": "1"}
    log = tempfile.TemporaryFile()
    try:
        proc = supervisor.spawn([sys.executable, "-m", "workshop.checking.warm"], env=env, stdout=log,
                           stdin=subprocess.PIPE, label="checks", pass_fds=(write_fd,))
    except BaseException:
        os.close(read_fd)
        log.close()
        raise
    finally:
        os.close(write_fd)
    return CheckProcess(proc=proc, events=read_fd, log=log)


def prewarm() -> None:
    """Start the next check process now, so the next run does not wait for Python and pytest to load."""
    global _warm
    if _warm is None or not _warm.alive():
        discard_warm()
        _warm = _spawn_check_process()


def discard_warm() -> None:
    global _warm
    if _warm is not None:
        from workshop.env import supervisor

        supervisor.stop(_warm.proc, grace=0.5)
        os.close(_warm.events)
        _warm.log.close()
        _warm = None


atexit.register(discard_warm)


def _take_check_process() -> CheckProcess:
    global _warm
    if _warm is not None and _warm.alive():
        taken, _warm = _warm, None
        return taken
    discard_warm()
    return _spawn_check_process()


def run_checks(
    lab: Lab, workspace: Path, steps: list[str] | None = None, on_event: Listener | None = None,
    timeout: float | None = None,
) -> CheckRun:
    """Run the checks of ``lab`` (or only of ``steps``) against ``workspace``."""
    from workshop.env import supervisor

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
    """One pytest process; returns False when it had to be killed and the rest must run in a new one."""
    from workshop.env import supervisor

    checker = _take_check_process()
    child, read_fd, log = checker.proc, checker.events, checker.log
    argv = model.pytest_args(lab.checks_dir, lab.root, [s.id for s in lab.steps], workspace=workspace, steps=steps,
                             deselect=deselect, timeout=timeout)
    job = {"argv": argv, "cwd": str(workspace) if workspace.is_dir() else ""}
    try:
        assert child.stdin is not None
        child.stdin.write((json.dumps(job) + "\n").encode())
        child.stdin.close()
    except BrokenPipeError:
        pass  # it died before its job; its output below says why
    current: Check | None = None
    current_deadline = 0.0
    buffer = b""
    try:
        while True:
            wait = max(0.05, current_deadline - time.monotonic()) if current else 1.0
            ready, _, _ = select.select([read_fd], [], [], wait)
            if ready:
                chunk = os.read(read_fd, 65536)
                if not chunk:
                    break  # the child closed the pipe: it has exited
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    event = model.from_line(line)
                    if event is not None:
                        current, current_deadline = _handle(event, result, emit, current, current_deadline)
            elif current and time.monotonic() > current_deadline:
                supervisor.stop(child, grace=1.0)
                verdict = current.verdict(TIMED_OUT, f"the check did not finish within its {current.timeout:g} s limit")
                verdict.hint = "does your code loop forever or wait for something that never comes?"
                verdict.seconds = current.timeout
                _record(verdict, result, emit)
                return False
        code = supervisor.stop(child, grace=2.0)
    finally:
        os.close(read_fd)
        if child.poll() is None:
            supervisor.stop(child, grace=0.5)
    with log:
        log.seek(0)
        child_output = log.read().decode("utf-8", errors="replace").strip()
    if current:  # the child died inside a check
        verdict = current.verdict(ERROR, "the check process died while running this check")
        verdict.seconds = current.timeout
        verdict.output = "\n".join(child_output.splitlines()[-15:])
        _record(verdict, result, emit)
        return False
    if code not in (0, 1, 5) and not result.verdicts:
        raise RuntimeError(f"the checks of lab {lab.id} could not run (pytest exit {code}):\n{child_output[-2000:]}")
    return True


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
    from workshop.env import supervisor

    checker = _spawn_check_process()  # its own: collections may run in several threads at once
    argv = model.pytest_args(lab.checks_dir, lab.root, [s.id for s in lab.steps], collect_only=True)
    found: list[Check] = []
    try:
        assert checker.proc.stdin is not None
        checker.proc.stdin.write((json.dumps({"argv": argv, "cwd": ""}) + "\n").encode())
        checker.proc.stdin.close()
        with os.fdopen(checker.events, "rb", closefd=True) as events:
            for line in events:
                event = model.from_line(line)
                if isinstance(event, model.Collected):
                    found = event.checks
        code = supervisor.stop(checker.proc, grace=2.0)
    finally:
        if checker.proc.poll() is None:
            supervisor.stop(checker.proc, grace=0.5)
    with checker.log as log:
        log.seek(0)
        said = log.read().decode("utf-8", errors="replace").strip()
    problem = "" if code in (0, 5) else said[-2000:] or f"pytest exited with {code}"
    if not problem:
        _remember(lab, found)
    return Catalog(found, problem)


def _catalog_path(lab: Lab) -> Path:
    """Where the last collection of ``lab`` is kept: named after its check files' names, sizes and times."""
    import hashlib

    from workshop.core.locations import cache_dir

    stamp = [str(lab.lab_md.stat().st_mtime_ns)] if lab.lab_md.exists() else []
    for f in sorted(lab.checks_dir.glob("*.py")) if lab.checks_dir.is_dir() else []:
        st = f.stat()
        stamp.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    key = hashlib.sha256("|".join([str(lab.checks_dir.resolve()), *stamp]).encode()).hexdigest()[:24]
    return cache_dir() / "checks" / f"{key}.json"


def _remember(lab: Lab, checks: list[Check]) -> None:
    from workshop.core.atomic import write_atomic

    write_atomic(_catalog_path(lab), json.dumps([c.to_dict() for c in checks]))


def known_checks(lab: Lab) -> list[Check] | None:
    """The lab's checks from the last time they were all collected, if its check files have not changed since."""
    try:
        return [Check.from_dict(c) for c in json.loads(_catalog_path(lab).read_text())]
    except (OSError, ValueError, TypeError):
        return None
