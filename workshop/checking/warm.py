"""The warm check worker: a process that has pytest, the check plugin and one lab's checks loaded,
and runs each check cycle in a fork of itself, so a cycle costs neither a Python start nor the
imports nor collecting the lab's check modules again.

Every cycle is a fresh fork of a worker that has never run a check: whatever a check or a fixture
leaves in a module (a cached value, a started Envoy, a changed global) dies with its fork, so each
cycle starts from the same state a fresh process has after importing the checks, and its verdict is
that of a fresh run. The fork leads a process group of its own; the runner stops it (and what it
started) when it overruns, and a crash in it leaves the worker as it was.

The runner talks to it over a SOCK_SEQPACKET socket (descriptor in WORKSHOP_WARM_FD), one JSON
message at a time, answered in order:

- ``{"op": "load", "argv": [...]}``: collect those checks in this process (their modules stay
  imported for the forks); no answer.
- ``{"op": "run", "argv": [...], "cwd": "...", "env": {...}}`` with two descriptors (the write end of
  the cycle's event pipe, and the file for its output): fork, run pytest once in the fork; answers
  ``{"pid": N}`` at once and ``{"code": N}`` when the fork has ended.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import sys
import traceback

import pytest

import workshop.checking.fixtures  # noqa: F401  (the imports a check run needs, done now)
import workshop.checking.plugin  # noqa: F401

EVENTS_FD = "WORKSHOP_EVENTS_FD"


def main() -> int:
    channel = socket.socket(fileno=int(os.environ.pop("WORKSHOP_WARM_FD")))
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(channel, 1 << 20, 2)
        except ConnectionError:
            return 0
        if not message:
            return 0  # the runner closed its end: it is done with us
        job = json.loads(message)
        if job["op"] == "load":
            _load(job["argv"])
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            channel.close()
            _cycle(job, fds)  # never returns
        for fd in fds:
            os.close(fd)
        channel.sendall(json.dumps({"pid": pid}).encode())
        _, status = os.waitpid(pid, 0)
        channel.sendall(json.dumps({"code": os.waitstatus_to_exitcode(status)}).encode())


def _load(argv: list[str]) -> None:
    """Collect the lab's checks here, once: their modules (and pytest's rewriting of them) stay imported."""
    try:
        pytest.main([*argv, "--collect-only"])
    except Exception:  # noqa: BLE001 - each cycle collects again and says what is wrong in its own words
        traceback.print_exc()


def _cycle(job: dict, fds: list[int]) -> None:
    """In the fork: one pytest run, its events on the cycle's pipe, its output in the cycle's file."""
    code = 70
    try:
        os.setsid()  # a group of its own: stopped with all it started, the worker left alone
        events, output = fds
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        os.environ.clear()
        os.environ.update(job["env"])
        os.environ[EVENTS_FD] = str(events)
        if job.get("cwd"):
            os.chdir(job["cwd"])
        code = int(pytest.main(job["argv"]))
    except BaseException:  # noqa: BLE001 - the runner reads this in the cycle's output
        traceback.print_exc()
    finish(code)


def finish(code: int) -> None:
    """Exit without tearing the interpreter down (unloading pytest's modules only costs time). Exit
    handlers (that stop the services this process owns) still run, and the output is flushed."""
    try:
        atexit._run_exitfuncs()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    finish(main())
