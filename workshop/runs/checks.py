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

from workshop.core.content import Lab
from workshop.core.verdict import ERROR, TIMED_OUT, Verdict

GRACE = 10.0  # seconds past a check's own limit before the runner kills the child
Listener = Callable[[dict[str, Any]], None]


@dataclass
class CheckRun:
    """The outcome of running some checks of one lab."""

    lab: Lab
    verdicts: list[Verdict] = field(default_factory=list)
    collected: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.verdicts) and all(v.passed for v in self.verdicts)


def pytest_argv(lab: Lab, workspace: Path, steps: list[str], deselect: list[str], timeout: float | None) -> list[str]:
    argv = [
        str(lab.checks_dir), "--workspace", str(workspace), "-p", "workshop.checking.plugin",
        "-p", "no:cacheprovider", "-q", "--no-header", "-rN", "--rootdir", str(lab.root), "-c", os.devnull,
        "-W", "ignore::pytest.PytestAssertRewriteWarning", "--step-order", ",".join(s.id for s in lab.steps),
        # these two run five full garbage collections at start and end (0.1 s of every cycle) to find
        # exceptions nobody could raise; a check reports its own errors
        "-p", "no:unraisableexception", "-p", "no:threadexception",
    ]
    for step in steps:
        argv += ["--step", step]
    for nodeid in deselect:
        argv += ["--deselect", nodeid]
    if timeout:
        argv += ["--check-timeout", str(timeout)]
    return argv


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
    job = {"argv": pytest_argv(lab, workspace, steps, deselect, timeout), "cwd": str(workspace) if workspace.is_dir() else ""}
    try:
        assert child.stdin is not None
        child.stdin.write((json.dumps(job) + "\n").encode())
        child.stdin.close()
    except BrokenPipeError:
        pass  # it died before its job; its output below says why
    current: dict[str, Any] | None = None
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
                    current, current_deadline = _handle(json.loads(line), result, emit, current, current_deadline)
            elif current and time.monotonic() > current_deadline:
                supervisor.stop(child, grace=1.0)
                verdict = _lost(current, TIMED_OUT, f"the check did not finish within its {current['timeout']:g} s limit")
                verdict.hint = "does your code loop forever or wait for something that never comes?"
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
        verdict = _lost(current, ERROR, "the check process died while running this check")
        verdict.output = "\n".join(child_output.splitlines()[-15:])
        _record(verdict, result, emit)
        return False
    if code not in (0, 1, 5) and not result.verdicts:
        raise RuntimeError(f"the checks of lab {lab.id} could not run (pytest exit {code}):\n{child_output[-2000:]}")
    return True


def _handle(
    event: dict[str, Any], result: CheckRun, emit: Listener, current: dict[str, Any] | None, deadline: float
) -> tuple[dict[str, Any] | None, float]:
    kind = event.get("event")
    if kind == "collected":
        known = {c["nodeid"] for c in result.collected}
        result.collected += [c for c in event["checks"] if c["nodeid"] not in known]
        emit(event)
    elif kind == "start":
        emit(event)
        return event, time.monotonic() + float(event["timeout"]) + GRACE
    elif kind == "result":
        _record(Verdict.from_dict(event["verdict"]), result, emit)
        return None, 0.0
    return current, deadline


def _record(verdict: Verdict, result: CheckRun, emit: Listener) -> None:
    result.verdicts.append(verdict)
    emit({"event": "result", "verdict": verdict.to_dict()})


def _lost(info: dict[str, Any], status: str, message: str) -> Verdict:
    return Verdict(lab=info["lab"], step=info["step"], name=info["name"], nodeid=info["nodeid"], status=status,
                   title=info.get("title", ""), message=message, seconds=float(info["timeout"]),
                   points=int(info.get("points", 1)))
