"""The local processes backend: each service is a process in its own process group, logging to a file.

It is started with ``procs.spawn`` (which records it under ``<state>/procs`` with this process as
owner). A detached service (one that runs until `workshop env down`) has that procs record removed
once it is ready: ``procs.reap_stale()``, which the check runner calls before every run, would
otherwise kill it as soon as the short-lived `workshop env up` exits. Our own record keeps it tracked.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from workshop.env import procs
from workshop.env.services import records
from workshop.env.services.catalog import Plan, Service
from workshop.env.services.records import PROCESS, ServiceError, ServiceInfo

_children: dict[int, subprocess.Popen[bytes]] = {}  # the services this process started, to reap them


def launch(service: Service, plan: Plan, info: ServiceInfo) -> None:
    """Start the service without waiting; fills in pid and log."""
    binary = service.binary()
    log = records.log_path(service.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **plan.env}
    try:
        with open(log, "wb") as out:
            proc = procs.spawn([str(binary), *plan.args], cwd=records.work_dir(service.name), env=env,
                               stdout=out, stderr=subprocess.STDOUT, label=f"service {service.name}")
    except OSError as exc:
        raise ServiceError(f"{binary} could not run ({exc.strerror or exc}): reinstall it with `workshop prepare`") from None
    _children[proc.pid] = proc
    info.backend, info.pid, info.log = PROCESS, proc.pid, str(log)
    info.pid_ticks = records.start_ticks(proc.pid)


def exited(info: ServiceInfo) -> str | None:
    """Why the service is gone (exit code), or None while it runs."""
    proc = _children.get(info.pid or 0)
    if proc is not None:
        code = proc.poll()
        return None if code is None else f"it exited with code {code}"
    return None if records.alive(info.pid, info.pid_ticks) else "it is no longer running"


def running(info: ServiceInfo) -> bool:
    return exited(info) is None


def detach(info: ServiceInfo) -> None:
    """Make the service outlive this process: ``procs.reap_stale()`` no longer sees it."""
    (procs.registry() / f"{info.pid}.json").unlink(missing_ok=True)


def stop(info: ServiceInfo, grace: float = 3.0) -> None:
    """SIGTERM the service's group, SIGKILL it after ``grace`` seconds; never kills a recycled pid."""
    pid = info.pid
    if not pid:
        return
    proc = _children.pop(pid, None)
    if proc is not None:
        procs.stop(proc, grace=grace)
        return
    if records.alive(pid, info.pid_ticks):
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and records.alive(pid, info.pid_ticks):
                time.sleep(0.01)
            if not records.alive(pid, info.pid_ticks):
                break
    (procs.registry() / f"{pid}.json").unlink(missing_ok=True)


def log_text(info: ServiceInfo) -> str:
    try:
        with open(info.log or records.log_path(info.name), "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 256_000))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
