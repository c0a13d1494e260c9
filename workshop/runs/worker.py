"""The runner's side of the warm check worker (workshop/checking/warm.py): start one, have it load a
lab's checks, hand it a cycle, stop the cycle's fork when it overruns, and replace a worker that died.

A worker serves one lab's checks, as they are: it is known by a key made of the digest of the lab's
check files' bytes and of the environment the checks run in (never a time), so a changed check file
or a changed environment gets a new worker, and the forks of a worker always import what a fresh
process would.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import IO

from workshop.checking import model
from workshop.core.content import Lab
from workshop.env import supervisor

ANSWER_WAIT = 120.0  # seconds a worker may take to answer (it may be loading a lab's checks first)


class WorkerGone(Exception):
    """The worker ended or stopped answering before the cycle began (the runner replaces it)."""


def key_of(lab: Lab | None) -> str:
    """What a worker loaded: the lab's check files' bytes and the environment (empty: no lab yet)."""
    if lab is None:
        return ""
    digest = hashlib.sha256(str(lab.checks_dir.resolve()).encode())
    for f in sorted(lab.checks_dir.rglob("*.py")) if lab.checks_dir.is_dir() else []:
        digest.update(f"{f.relative_to(lab.checks_dir)}\0".encode())
        digest.update(f.read_bytes())
    digest.update(json.dumps(sorted(os.environ.items())).encode())
    return digest.hexdigest()[:24]


def checks_env() -> dict[str, str]:
    """The environment pytest runs the checks in: this process's, with no plugin loaded by itself."""
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("WORKSHOP_EVENTS_FD", None)
    return env


@dataclass
class Cycle:
    """One check cycle running in a fork of the worker: its pid, the read end of its event pipe, its output."""

    pid: int
    events: int
    output: IO[bytes]


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    channel: socket.socket
    log: IO[bytes]
    key: str = ""
    cycle: Cycle | None = field(default=None, repr=False)

    def alive(self) -> bool:
        return self.proc.poll() is None

    @classmethod
    def start(cls) -> Worker:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {**checks_env(), "WORKSHOP_WARM_FD": str(theirs.fileno())}
        log = tempfile.TemporaryFile()
        try:
            proc = supervisor.spawn([sys.executable, "-m", "workshop.checking.warm"], env=env, stdout=log,
                                    label="checks", pass_fds=(theirs.fileno(),))
        except BaseException:
            ours.close()
            log.close()
            raise
        finally:
            theirs.close()
        return cls(proc=proc, channel=ours, log=log)

    def load(self, lab: Lab) -> None:
        """Have the worker collect ``lab``'s checks now, so its cycles find them imported."""
        argv = model.pytest_args(lab.checks_dir, lab.root, [s.id for s in lab.steps])
        self._send({"op": "load", "argv": argv})
        self.key = key_of(lab)

    def begin(self, argv: list[str], cwd: str) -> Cycle:
        """Start one cycle (a fork running pytest with ``argv``); its events come on ``cycle.events``."""
        read_fd, write_fd = os.pipe()
        output = tempfile.TemporaryFile()
        try:
            self._send({"op": "run", "argv": argv, "cwd": cwd, "env": checks_env()}, [write_fd, output.fileno()])
            pid = int(self._answer()["pid"])
        except BaseException:
            os.close(read_fd)
            output.close()
            raise
        finally:
            os.close(write_fd)
        self.cycle = Cycle(pid, read_fd, output)
        return self.cycle

    def end(self, kill: bool = False, grace: float = 1.0) -> int | None:
        """The cycle's exit code once its fork has ended (stopped with all it started, if ``kill``);
        None when the worker did not say (it died: it is then replaced)."""
        cycle = self.cycle
        if cycle is None:
            return None
        if kill:
            supervisor.kill_tree(cycle.pid, grace=grace)
        try:
            return int(self._answer()["code"])
        except WorkerGone:
            supervisor.kill_tree(cycle.pid, grace=0.2)
            return None
        finally:
            self.cycle = None
            os.close(cycle.events)

    def stop(self) -> None:
        self.channel.close()  # the worker's end of the channel reads nothing: it exits by itself
        supervisor.stop(self.proc, grace=0.5)
        if self.cycle is not None:
            os.close(self.cycle.events)
            self.cycle.output.close()
            self.cycle = None
        self.log.close()

    def said(self) -> str:
        """What the worker itself printed (a failed start, a broken import)."""
        self.log.seek(0)
        return self.log.read().decode("utf-8", errors="replace").strip()

    def _send(self, job: dict, fds: list[int] | None = None) -> None:
        try:
            socket.send_fds(self.channel, [json.dumps(job).encode()], fds or [])
        except OSError as exc:
            raise WorkerGone(f"the check worker is gone ({exc})") from None

    def _answer(self) -> dict:
        self.channel.settimeout(ANSWER_WAIT)
        try:
            message = self.channel.recv(1 << 16)
        except OSError as exc:
            raise WorkerGone(f"the check worker did not answer ({exc})") from None
        if not message:
            raise WorkerGone(f"the check worker ended:\n{self.said()[-2000:]}")
        return json.loads(message)


def output_of(cycle: Cycle) -> str:
    """What the cycle's pytest printed (and closes its file)."""
    with cycle.output as f:
        f.seek(0)
        return f.read().decode("utf-8", errors="replace").strip()
