"""What is running, on disk: one record per service under ``<state>/services/``, plus who owns it.

A record is written (atomically) before a service is started and removed when it is stopped, so a
later command (`workshop env status`, `down`, `logs`) or a later start after a crash finds it.
Processes are told apart from a recycled pid by their start time (``/proc/PID/stat`` field 22).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from workshop.core.atomic import write_atomic
from workshop.core.errors import WorkshopError
from workshop.core.locations import state_dir

HOST = "127.0.0.1"
PROCESS, DOCKER = "process", "docker"
YOURS = "yours"  # a service the learner already runs on its port: used as it is, never stopped


class ServiceError(WorkshopError):
    """A service could not be started, found or stopped; the message says why and what to do."""


class UsageError(ServiceError):
    """The request itself is wrong (an unknown service or backend, a bad port number)."""


@dataclass
class ServiceInfo:
    """A running service: where it answers, what runs it, who owns it and where its log is."""

    name: str
    backend: str  # "process", "docker", or "yours" (already running, not started by the workshop)
    ports: dict[str, int]  # {"http": 8080}; Envoy: {"listener": 10000, "admin": 9901}
    host: str = HOST
    pid: int | None = None
    container: str | None = None  # the container id (docker backend)
    image: str | None = None
    log: str = ""  # the log file; for a container, where `down` saves its log
    owner: int | None = None  # the pid whose exit stops it; None: it runs until `workshop env down`
    owner_ticks: int | None = None  # the owner's start time, so a recycled pid is not mistaken for it
    pid_ticks: int | None = None
    started: float = field(default_factory=time.time)
    details: dict[str, str | int] = field(default_factory=dict)  # e.g. Envoy's upstream port

    @property
    def port(self) -> int:
        """The port a learner talks to (Envoy's listener, the registry's, httpbin's)."""
        return next(iter(self.ports.values()))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def admin_url(self) -> str | None:
        return f"http://{self.host}:{self.ports['admin']}" if "admin" in self.ports else None

    @property
    def detached(self) -> bool:
        return self.owner is None

    def to_dict(self) -> dict:
        return {**asdict(self), "url": self.url, "admin_url": self.admin_url}

    @classmethod
    def from_dict(cls, data: dict) -> ServiceInfo:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def services_dir() -> Path:
    return state_dir() / "services"


def record_path(name: str) -> Path:
    return services_dir() / f"{name}.json"


def log_path(name: str) -> Path:
    return services_dir() / f"{name}.log"


def work_dir(name: str) -> Path:
    """Where a service's generated configuration lives."""
    path = services_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def state_key() -> str:
    """A short stable id of this state folder: container labels carry it, so tests never touch a learner's."""
    return hashlib.sha256(str(state_dir().resolve()).encode()).hexdigest()[:16]


def save(info: ServiceInfo) -> None:
    write_atomic(record_path(info.name), json.dumps(info.to_dict(), indent=1))


def forget(name: str) -> None:
    record_path(name).unlink(missing_ok=True)


def load_all() -> dict[str, ServiceInfo]:
    out: dict[str, ServiceInfo] = {}
    folder = services_dir()
    if not folder.is_dir():
        return out
    for f in sorted(folder.glob("*.json")):
        try:
            info = ServiceInfo.from_dict(json.loads(f.read_text()))
        except (OSError, ValueError, TypeError):
            f.unlink(missing_ok=True)  # a torn or foreign file: the atomic writer never leaves one
            continue
        out[info.name] = info
    return out


# ---------------------------------------------------------------- processes and owners


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), or None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None if _no_proc() else _kill0(pid)
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def _no_proc() -> bool:
    return not os.path.isdir("/proc/self")


def _kill0(pid: int) -> int | None:
    """Without /proc (macOS): alive or not, with no start time to compare."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return 0


def alive(pid: int | None, ticks: int | None) -> bool:
    """Whether the process that had ``pid`` at start time ``ticks`` still runs (not a zombie, not a new one)."""
    if not pid:
        return False
    now = start_ticks(pid)
    return now is not None and (ticks is None or now == 0 or now == ticks)


def me() -> tuple[int, int | None]:
    pid = os.getpid()
    return pid, start_ticks(pid)


def owner_alive(info: ServiceInfo) -> bool:
    return info.owner is None or alive(info.owner, info.owner_ticks)


def owner_label(pid: int, ticks: int | None) -> str:
    return f"{pid}:{ticks or 0}"


def owner_label_alive(label: str) -> bool:
    pid, _, ticks = label.partition(":")
    return pid.isdigit() and alive(int(pid), int(ticks) if ticks.isdigit() and int(ticks) else None)


# ---------------------------------------------------------------- one change at a time

_thread_lock = threading.RLock()
_depth = 0


class Busy(Exception):
    """Another process holds the services lock (it is starting or stopping services)."""


@contextmanager
def locked(*, wait: bool = True) -> Iterator[None]:
    """Hold the services lock (threads of this process, and other processes): starts never race.

    Re-entrant within a thread. With ``wait=False``, raise Busy at once instead of waiting for
    another process's start to finish (what a status display wants).
    """
    global _depth
    if not _thread_lock.acquire(blocking=wait):
        raise Busy()
    try:
        if _depth:
            _depth += 1
            try:
                yield
            finally:
                _depth -= 1
            return
        folder = services_dir()
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise Busy() from None
            _depth = 1
            try:
                yield
            finally:
                _depth = 0
        finally:
            os.close(fd)  # closing releases the flock
    finally:
        _thread_lock.release()
