"""Processes the runner starts: each in its own process group, recorded on disk until stopped.

The record (``<state>/procs/<pgid>.json``) names the owner process. ``reap_stale()`` kills the
groups whose owner is gone, which is how a runner killed with -9 is cleaned up at the next start.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from workshop.core.atomic import write_atomic
from workshop.core.locations import state_dir
from workshop.env import clock


def registry() -> Path:
    return state_dir() / "procs"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def spawn(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdout: int | object = subprocess.PIPE,
    stderr: int | object = subprocess.STDOUT,
    stdin: int | object = subprocess.DEVNULL,
    label: str = "",
    pass_fds: tuple[int, ...] = (),
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new process group and record it; stop it with ``stop()``."""
    proc = subprocess.Popen(
        list(argv), cwd=cwd, env=dict(env) if env is not None else None,
        stdout=stdout, stderr=stderr, stdin=stdin, start_new_session=True, pass_fds=pass_fds,  # type: ignore[arg-type]
    )
    record = {"pgid": proc.pid, "owner": os.getpid(), "argv": list(argv)[:8], "label": label, "started": time.time()}
    write_atomic(registry() / f"{proc.pid}.json", json.dumps(record))
    return proc


def kill_group(pgid: int, grace: float = 3.0, leader: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM the group, then SIGKILL what is left after ``grace`` seconds.

    ``leader`` is reaped as we go: an exited but unreaped leader would keep the group "alive".
    """
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        _reap(pgid, leader)
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(pgid, leader)
            if not _group_alive(pgid):
                return
            time.sleep(0.01)


def _reap(pgid: int, leader: subprocess.Popen[bytes] | None) -> None:
    """Collect an exited leader that is our child, so its zombie does not keep the group "alive"."""
    if leader is not None:
        leader.poll()
        return
    try:
        os.waitpid(pgid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: its own parent reaps it


def stop(proc: subprocess.Popen[bytes], grace: float = 3.0) -> int | None:
    """Stop a process started by ``spawn()`` and everything it started; returns its exit code."""
    kill_group(proc.pid, grace if proc.poll() is None else 0.2, leader=proc)
    try:
        code = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        code = None
    (registry() / f"{proc.pid}.json").unlink(missing_ok=True)
    return code


def run(
    argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None, timeout: float,
    label: str = "",
) -> tuple[int | None, str]:
    """Run to completion in its own group; returns (exit code, or None when killed at ``timeout``; output).

    Raises OSError when the program cannot be started. Whatever it started is stopped too.
    """
    with clock.tool_time():
        return _run(spawn(argv, cwd=cwd, env=env, label=label), timeout)


def _run(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int | None, str]:
    code: int | None = None
    out = b""
    try:
        out, _ = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        stop(proc, grace=0.5)
        out = proc.stdout.read() if proc.stdout else b""
    finally:
        stop(proc, grace=0.5)
    return code, out.decode("utf-8", errors="replace")


def tracked() -> list[dict]:
    out = []
    for f in sorted(registry().glob("*.json")):
        try:
            out.append(json.loads(f.read_text()))
        except (OSError, ValueError):
            f.unlink(missing_ok=True)
    return out


def reap_stale() -> list[dict]:
    """Kill process groups left by runners that died; returns what was reaped."""
    reaped = []
    for rec in tracked():
        if _alive(rec["owner"]):
            continue
        if _group_alive(rec["pgid"]):
            kill_group(rec["pgid"], grace=1.0)
            reaped.append(rec)
        (registry() / f"{rec['pgid']}.json").unlink(missing_ok=True)
    return reaped


@dataclass
class Waited:
    """How waiting for a program to be ready ended: ready, or why not (it ended, or time ran out)."""

    ready: bool
    ended: str | None = None  # what ``ended()`` said when the program stopped first; None: time ran out


def wait_ready(
    ready: Callable[[], bool], *, ended: Callable[[], str | None], timeout: float, every: float = 0.02,
    not_yet: tuple[type[BaseException], ...] = (),
) -> Waited:
    """Ask ``ready()`` every ``every`` seconds until it says yes, ``ended()`` gives a reason (the program
    stopped), or ``timeout`` seconds pass. ``ready()`` raising one of ``not_yet`` (nothing answers yet)
    counts as not ready. Every readiness wait in the workshop (Envoy, services, func-e, a learner's
    program) is this loop."""
    deadline = time.monotonic() + timeout
    while True:
        why = ended()
        if why:
            return Waited(ready=False, ended=why)
        try:
            if ready():
                return Waited(ready=True)
        except not_yet:
            pass
        if time.monotonic() >= deadline:
            return Waited(ready=False)
        time.sleep(every)
