"""The parent side of one grading job: start its child, ``workshop.grading.job_process`` (in a container or on this host), feed it its job,
read its signed events until it is done or its time is up, and stop everything it started.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workshop.core.content import Lab
from workshop.core.locations import tools_bin, tools_dir
from workshop.core.verdict import Verdict
from workshop.env import sandbox as sandboxlib
from workshop.env import supervisor
from workshop.grading.job_process import verify

DOCKER, NONE = "docker", "none"  # where a job runs: in a container, or on this host
SANDBOX_WORKSPACE = "/tmp/work"  # the submission's private, writable copy inside the container
_live: dict[int, tuple[subprocess.Popen[bytes], Path]] = {}
_live_lock = threading.Lock()


@dataclass
class GradeOptions:
    labs: list[Lab]
    jobs: int = 1
    sandbox: str = NONE
    timeout: float | None = None  # overrides every check's own limit
    lab_time_limit: float = 900.0  # seconds for one lab of one submission, all its checks together
    cpus: float | None = None
    memory_mb: int = 2048


@dataclass
class JobOutcome:
    """What one job reported, believed only when signed."""

    verdicts: dict[str, dict[str, Verdict]] = field(default_factory=dict)  # lab -> node id -> verdict
    problems: dict[str, list[str]] = field(default_factory=dict)
    submitted: dict[str, bool] = field(default_factory=dict)
    lab_broken: dict[str, str] = field(default_factory=dict)
    forged: int = 0
    done: bool = False
    timed_out: bool = False
    broken: str = ""  # the job could not grade at all (not the submission's fault)
    ended_early: str = ""  # why checks may be missing


def sandbox_cpus(cores: int, jobs: int) -> float:
    """The CPU cap of one submission's container: twice its share of the machine, never more than all of it.

    A hard cap of exactly its share (cores / jobs) wastes what one container leaves idle while it waits
    (Envoy starting, a pipe), so grading ran ~20% slower than on the host; the kernel shares the
    cores fairly between busy containers, and a runaway submission still gets at most this cap until
    its check's time limit.
    """
    return float(min(cores, max(1.0, 2 * cores / max(1, jobs))))


def run_job(workspace: Path, slugs: list[str], work: Path, options: GradeOptions, sandbox: dict[str, Any] | None,
            on_event: Callable[[dict[str, Any]], None]) -> JobOutcome:
    key = secrets.token_bytes(32)
    job: dict[str, Any] = {"key": key.hex(), "labs": slugs, "timeout": options.timeout}
    state = Path(tempfile.mkdtemp(prefix="job-", dir=work))
    container = None
    if sandbox is None:
        argv, cwd = python_job_argv(), state
        env = host_env(state, options.labs[0].root)
        job["submission"] = str(workspace)
    else:
        cpus = options.cpus or sandbox_cpus(os.cpu_count() or 1, options.jobs)
        limits = sandboxlib.Limits(cpus=cpus, memory_mb=options.memory_mb)
        argv, container = sandboxlib.run_argv(sandbox["plan"], limits, str(os.getpid()), workspace)
        cwd, env = None, dict(os.environ)
        job.update(submission=sandboxlib.SUBMISSION, copy_to=SANDBOX_WORKSPACE)
    limit = options.lab_time_limit * len(slugs) + 60
    outcome = JobOutcome()
    with tempfile.TemporaryFile() as errors:
        try:
            proc = supervisor.spawn(argv, label="grading job", stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                                    cwd=cwd, env=env, container=container, meta={"state": str(state)})
        except OSError as exc:
            outcome.broken = f"the grading job could not start ({exc})"
            return outcome
        with _live_lock:
            _live[proc.pid] = (proc, state)
        try:
            assert proc.stdin is not None
            try:
                proc.stdin.write((json.dumps(job) + "\n").encode())
                proc.stdin.close()
            except BrokenPipeError:
                pass
            _read(proc, key, time.monotonic() + limit, outcome, on_event)
        finally:
            _stop(proc, state)
            with _live_lock:
                _live.pop(proc.pid, None)
        errors.seek(0)
        tail = errors.read().decode("utf-8", errors="replace").strip()[-1500:]
    _explain_end(outcome, proc.returncode, tail, limit)
    return outcome


def host_env(state: Path, content: Path) -> dict[str, str]:
    """The job's environment on this host: its own state, data and cache folders, this machine's tools.

    The host's data folder (its registry's images, the mesh's state) is not used: each lab gets fresh ones.
    """
    path = os.pathsep.join([str(tools_bin()), os.environ.get("PATH", "")])
    return {**os.environ, "WORKSHOP_TOOLS_DIR": str(tools_dir()),
            "WORKSHOP_STATE_DIR": str(state / "state"), "WORKSHOP_DATA_DIR": str(state / "data"),
            "WORKSHOP_CACHE_DIR": str(state / "cache"), "WORKSHOP_SERVICES": "owned", "WORKSHOP_BACKEND": "process",
            "WORKSHOP_CONTENT": str(content), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": path}


def _read(proc: subprocess.Popen[bytes], key: bytes, deadline: float, outcome: JobOutcome,
          on_event: Callable[[dict[str, Any]], None]) -> None:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buffer, seq = b"", 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            outcome.timed_out = True
            return
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            event = verify(key, line.decode("utf-8", errors="replace"), seq)
            if event is None:
                outcome.forged += 1 if line.strip() else 0
                continue
            seq += 1
            _take(event, outcome, on_event)


def _take(event: dict[str, Any], outcome: JobOutcome, on_event: Callable[[dict[str, Any]], None]) -> None:
    kind, lab = event.get("event"), str(event.get("lab", ""))
    if kind == "lab-start":
        outcome.submitted[lab] = bool(event.get("submitted"))
        outcome.verdicts.setdefault(lab, {})
    elif kind == "result":
        verdict = Verdict.from_dict(event["verdict"])
        outcome.verdicts.setdefault(verdict.lab, {})[verdict.nodeid] = verdict
    elif kind == "lab-end":
        outcome.problems[lab] = [str(p) for p in event.get("problems", [])]
    elif kind == "lab-broken":
        outcome.lab_broken[lab] = f"the checks of this lab could not run: {event.get('reason', '')}"
        outcome.broken = outcome.lab_broken[lab]
    elif kind == "broken":
        outcome.broken = f"the grading job failed: {event.get('reason', '')}"
    elif kind == "done":
        outcome.done = True
    on_event(event)


def _explain_end(outcome: JobOutcome, code: int | None, stderr_tail: str, limit: float) -> None:
    if outcome.done or outcome.broken:
        return
    if outcome.timed_out:
        outcome.ended_early = f"grading this submission took longer than its {limit:g} s limit; it was stopped"
    elif not outcome.submitted:
        outcome.broken = f"the grading job stopped before grading anything (exit {code}): {stderr_tail or 'no output'}"
    else:
        outcome.ended_early = (f"the sandbox ended before this check reported (exit {code}): the submission was killed "
                               "for using too much memory or too many processes, or it killed the grader")


def _stop(proc: subprocess.Popen[bytes], state: Path) -> None:
    """Stop the job and everything it started: its container, or (on the host) what it recorded under its state."""
    supervisor.stop(proc, grace=1.0)
    supervisor.stop_everything(state / "state")


def stop_all() -> None:
    """Stop every job still running (on Ctrl-C)."""
    with _live_lock:
        live = list(_live.values())
    for proc, state in live:
        _stop(proc, state)


def python_argv() -> list[str]:
    """This Python, not importing anything from its working folder."""
    return [sys.executable, *(["-P"] if sys.version_info >= (3, 11) else [])]


def python_job_argv() -> list[str]:
    """The job on this host."""
    return [*python_argv(), "-m", "workshop.grading.job_process"]
