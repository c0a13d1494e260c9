"""The one supervisor: every process and container the workshop starts (a check's Envoy, a service, a
learner's func-e, the mesh, a grading job) is started, watched and stopped here.

One registry on disk, ``<state>/children/<id>.json``, a record per child from start to stop, and one
lock beside it. A child is either *owned* (by the process that started it: stopped at its exit, on
Ctrl-C, SIGTERM or SIGHUP, and, after a ``kill -9``, by the next ``reap()`` of any workshop process)
or *detached* (it runs until ``workshop env down``). Processes and their owners are known by pid and
start time (psutil), so a recycled pid is never mistaken for them; a process is started in a process
group of its own and stopped with everything it started, children first.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil
from filelock import FileLock, Timeout

from workshop.core import waiting
from workshop.core.atomic import write_atomic
from workshop.core.locations import state_dir
from workshop.env import clock, docker_engine


@dataclass
class Child:
    """One thing the workshop started: a process (``pid``) or a container (``container``)."""

    id: str
    label: str  # what it is, in words: "envoy", "service registry", "learner", "mesh istiod"
    argv: list[str] = field(default_factory=list)
    pid: int | None = None
    created: float | None = None  # the process's start time: tells it from a later process with its pid
    container: str | None = None  # a container's id or name
    owner: int | None = None  # the pid whose end stops it; None: detached, it runs until `workshop env down`
    owner_created: float | None = None
    role: str = ""  # who looks after it and finds it again ("service:registry", "mesh:istiod")
    meta: dict = field(default_factory=dict)  # what that keeper remembers (ports, where its log is)
    log: str = ""
    started: float = field(default_factory=time.time)

    @property
    def pgid(self) -> int | None:
        return self.pid  # every process starts as the leader of its own group

    @property
    def detached(self) -> bool:
        return self.owner is None

    def to_dict(self) -> dict:
        return {**asdict(self), "pgid": self.pgid}

    @classmethod
    def from_dict(cls, data: dict) -> Child:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class Busy(Exception):
    """Another process holds the supervisor's lock (it is starting or stopping things)."""


# ---------------------------------------------------------------- the registry and its lock


def registry(state: Path | None = None) -> Path:
    return (state or state_dir()) / "children"


_locks: dict[str, FileLock] = {}


@contextlib.contextmanager
def locked(*, wait: bool = True) -> Iterator[None]:
    """Hold the one lock (other processes and other threads wait): starts and stops never race.

    Re-entrant in a thread. With ``wait=False``, raise Busy at once if someone else holds it.
    """
    path = registry() / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = _locks.setdefault(str(path), FileLock(str(path), thread_local=True))
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        raise Busy() from None
    try:
        yield
    finally:
        lock.release()


def _path(child_id: str, state: Path | None = None) -> Path:
    return registry(state) / f"{child_id}.json"


def save(child: Child) -> None:
    write_atomic(_path(child.id), json.dumps(child.to_dict(), indent=1))


def forget(child: Child | str) -> None:
    _path(child if isinstance(child, str) else child.id).unlink(missing_ok=True)


def load(state: Path | None = None) -> list[Child]:
    """Every recorded child, oldest first (a torn or foreign file is dropped: the writer never leaves one)."""
    folder = registry(state)
    found = []
    for f in folder.glob("*.json") if folder.is_dir() else ():
        try:
            found.append(Child.from_dict(json.loads(f.read_text())))
        except (OSError, ValueError, TypeError):
            f.unlink(missing_ok=True)
    return sorted(found, key=lambda c: c.started)


def tracked(state: Path | None = None) -> list[dict]:
    """The records, as dicts (label, pid, pgid, owner, argv, ...): what tests and `--json` show."""
    return [c.to_dict() for c in load(state)]


def children(role: str = "") -> list[Child]:
    """The recorded children whose role starts with ``role`` (all when empty)."""
    return [c for c in load() if c.role.startswith(role)]


# ---------------------------------------------------------------- who is alive


def started_at(pid: int) -> float | None:
    """When ``pid`` started, or None when it is gone or a zombie."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def same_process(pid: int | None, created: float | None) -> bool:
    """Whether the process that had ``pid`` when it started at ``created`` still runs (not a zombie, not another)."""
    if not pid:
        return False
    now = started_at(pid)
    return now is not None and (created is None or abs(now - created) < 0.01)


def me() -> tuple[int, float | None]:
    pid = os.getpid()
    return pid, started_at(pid)


def owner_alive(child: Child) -> bool:
    return child.owner is None or same_process(child.owner, child.owner_created)


def alive(child: Child) -> bool:
    """Whether it still runs: its process (when it has one), else its container."""
    proc = _popens.get(child.pid or 0)
    if proc is not None:
        return proc.poll() is None
    if child.pid:
        return same_process(child.pid, child.created)
    return bool(child.container) and docker_engine.container_running(child.container or "")


def exited(child: Child) -> str | None:
    """Why the child is gone ("it exited with code 1"), or None while it runs."""
    proc = _popens.get(child.pid or 0)
    if proc is not None:
        code = proc.poll()
        return None if code is None else f"it exited with code {code}"
    if child.container and not child.pid:
        return docker_engine.container_ended(child.container)
    return None if same_process(child.pid, child.created) else "it is no longer running"


# ---------------------------------------------------------------- starting


_popens: dict[int, subprocess.Popen[bytes]] = {}  # the processes this process started: to reap them, read exit codes


def spawn(
    argv: Sequence[str], *, label: str, cwd: Path | None = None, env: Mapping[str, str] | None = None,
    stdout: int | object = subprocess.PIPE, stderr: int | object = subprocess.STDOUT,
    stdin: int | object = subprocess.DEVNULL, pass_fds: tuple[int, ...] = (), detached: bool = False,
    role: str = "", meta: dict | None = None, log: Path | None = None, container: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a process group of its own and record it; stop it with ``stop()``.

    It is owned by this process unless ``detached``. ``container`` names the container the program
    runs (`docker run --name`): stopping the child removes it too. Raises OSError when it cannot start.
    """
    proc = subprocess.Popen(
        list(argv), cwd=cwd, env=dict(env) if env is not None else None, stdout=stdout, stderr=stderr,
        stdin=stdin, start_new_session=True, pass_fds=pass_fds,  # type: ignore[arg-type]
    )
    _popens[proc.pid] = proc
    owner, owner_created = (None, None) if detached else me()
    child = Child(id=str(proc.pid), label=label, argv=[str(a) for a in argv][:12], pid=proc.pid,
                  created=started_at(proc.pid), container=container, owner=owner, owner_created=owner_created,
                  role=role, meta=dict(meta or {}), log=str(log or ""))
    save(child)
    if not detached:
        _install_cleanup()
    return proc


def record_container(container: str, *, label: str, role: str = "", meta: dict | None = None,
                     detached: bool = False, log: Path | None = None) -> Child:
    """Record a container created (not yet started) by the container backend, owned like a process."""
    owner, owner_created = (None, None) if detached else me()
    child = Child(id=f"c-{new_id()}", label=label, container=container, owner=owner, owner_created=owner_created,
                  role=role, meta=dict(meta or {}), log=str(log or ""))
    save(child)
    if not detached:
        _install_cleanup()
    return child


def find(target: subprocess.Popen[bytes] | Child | str) -> Child | None:
    """The record of a process we started, a Child, or a child id."""
    child_id = str(target.pid) if isinstance(target, subprocess.Popen) else target.id if isinstance(target, Child) else target
    try:
        return Child.from_dict(json.loads(_path(child_id).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def update(child: Child, *, detached: bool | None = None, meta: dict | None = None, role: str | None = None) -> Child:
    """Change who owns a child (``detached=True``: it runs until `workshop env down`), who looks after
    it (``role``) or what is kept with it (``meta``)."""
    if detached is not None:
        child.owner, child.owner_created = (None, None) if detached else me()
    if meta:
        child.meta.update(meta)
    if role is not None:
        child.role = role
    save(child)
    return child


# ---------------------------------------------------------------- stopping


def _tree(pid: int) -> list[psutil.Process]:
    """The process and every process it started, deepest first."""
    try:
        root = psutil.Process(pid)
        below = root.children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [*reversed(below), root]


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _gone(tree: list[psutil.Process], pgid: int) -> bool:
    """Nothing of the tree runs (zombies do not count) and the process group is empty (reaped)."""
    for p in tree:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            continue
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _only_zombies_in(pgid)  # a detached service's leader is reaped by PID 1, when it gets to it


def _only_zombies_in(pgid: int) -> bool:
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                return False
        except (OSError, psutil.Error):
            continue
    return True


def _reap_leader(pid: int) -> None:
    proc = _popens.get(pid)
    if proc is not None:
        proc.poll()
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not ours: its own parent reaps it


def _gone_now(tree: list[psutil.Process], pid: int) -> bool:
    _reap_leader(pid)  # a zombie leader counts as gone only once reaped
    return _gone(tree, pid)


def kill_tree(pid: int, grace: float = 3.0) -> None:
    """SIGTERM a process's children (deepest first), then it and its group; SIGKILL what is left after ``grace``."""
    tree = _tree(pid)
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        _reap_leader(pid)
        for p in tree:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                p.send_signal(sig)
        _signal_group(pid, sig)  # what left the tree (re-parented) but kept the group
        if waiting.until(lambda: _gone_now(tree, pid), timeout=wait, every=0.01).ready:
            return


def stop(target: subprocess.Popen[bytes] | Child, grace: float = 3.0) -> int | None:
    """Stop a child (a process and everything it started, or a container) and forget it; its exit code."""
    child = target if isinstance(target, Child) else find(target)
    proc = target if isinstance(target, subprocess.Popen) else _popens.get(target.pid or 0)
    code = None
    if child is not None and child.container:
        docker_engine.remove_container(child.container, grace, keep_log=Path(child.log) if child.log else None)
    pid = proc.pid if proc is not None else child.pid if child is not None else None
    if pid and (proc is not None or (child is not None and same_process(pid, child.created))):
        kill_tree(pid, grace if (proc is None or proc.poll() is None) else 0.2)
    if proc is not None:
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        _popens.pop(proc.pid, None)
    if child is not None:
        forget(child)
    return code


@dataclass(frozen=True)
class Result:
    """What a program that ran to completion did: the one shape every run of one has (a check's `go build`,
    kubectl, a probe of `go version`, a step of `workshop prepare`)."""

    argv: list[str]
    code: int | None  # None when it was killed at its time limit
    output: str  # stdout and stderr, interleaved
    seconds: float

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def timed_out(self) -> bool:
        return self.code is None


def run(argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None, timeout: float,
        label: str = "", input: str | bytes | None = None) -> Result:
    """Run to completion in its own group, ``input`` on its stdin (its code is None when killed at ``timeout``).

    Raises OSError when the program cannot be started. Whatever it started is stopped too.
    """
    began = time.monotonic()
    with clock.tool_time():
        proc = spawn(argv, cwd=cwd, env=env, label=label or Path(str(argv[0])).name,
                     stdin=subprocess.DEVNULL if input is None else subprocess.PIPE)
        code: int | None = None
        out = b""
        try:
            out, _ = proc.communicate(input=input.encode() if isinstance(input, str) else input, timeout=timeout)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            stop(proc, grace=0.5)
            out = proc.stdout.read() if proc.stdout else b""
        finally:
            stop(proc, grace=0.5)
        return Result([str(a) for a in argv], code, out.decode("utf-8", errors="replace"), time.monotonic() - began)


def reap() -> list[Child]:
    """Stop the children whose owner is gone (a runner killed with -9) and forget those that ended; the stopped."""
    stopped = []
    with locked():
        for child in reversed(load()):  # the newest first: what needs a service stops before it
            if not owner_alive(child):
                with contextlib.suppress(Exception):  # an engine that is gone took its containers with it
                    stop(child, grace=1.0)
                forget(child)
                stopped.append(child)
            elif child.pid and not alive(child):
                with contextlib.suppress(Exception):  # its container (a `docker run` that ended) may be left
                    stop(child, grace=0.5)
                forget(child)
    return stopped


def stop_everything(state: Path) -> list[Child]:
    """Stop every child recorded under another state folder (a grading job's, once it is over)."""
    stopped = []
    for child in reversed(load(state)):  # the newest first
        if child.owner == os.getpid() or child.pid == os.getpgid(0):
            continue
        with contextlib.suppress(Exception):
            if child.container:
                docker_engine.remove_container(child.container, 1.0)
            elif same_process(child.pid, child.created):
                kill_tree(child.pid or 0, grace=0.5)
        _path(child.id, state).unlink(missing_ok=True)
        stopped.append(child)
    return stopped


def stop_owned() -> list[Child]:
    """Stop what this process owns (at exit and on signals); never raises: the next reap() gets the rest."""
    pid = os.getpid()
    stopped = []
    with contextlib.suppress(Exception):
        for child in load():
            if child.owner == pid:
                with contextlib.suppress(Exception):
                    stop(child, grace=2.0)
                    stopped.append(child)
    return stopped


# ---------------------------------------------------------------- owned children end with their owner

_cleanup_installed = False
_signals_installed = False
_install_lock = threading.Lock()


def _on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds finally blocks; atexit then stops what this process owns


def _install_cleanup() -> None:
    """Stop owned children at exit; turn SIGTERM/SIGHUP into a normal exit (from the main thread only)."""
    global _cleanup_installed, _signals_installed
    with _install_lock:
        if not _cleanup_installed:
            atexit.register(stop_owned)
            _cleanup_installed = True
        if _signals_installed or threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) is signal.SIG_DFL:  # never replace a handler someone else installed
                signal.signal(sig, _on_signal)
        _signals_installed = True


def install_cleanup() -> None:
    """For an app whose children start in worker threads: call once from the main thread."""
    _install_cleanup()


def new_id() -> str:
    return uuid.uuid4().hex[:12]
