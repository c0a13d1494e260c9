"""The local processes backend: each service is a process the supervisor starts, logging to a file."""

from __future__ import annotations

import os
import subprocess

from workshop.core.logs import read_tail
from workshop.env import service_records as records
from workshop.env import supervisor
from workshop.env.service import Plan, Service
from workshop.env.service_records import PROCESS, ServiceError, ServiceInfo


def launch(service: Service, plan: Plan, info: ServiceInfo) -> None:
    """Start the service (owned by this process) without waiting; fills in its child, pid and log."""
    binary = service.binary()
    log = records.log_path(service.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    info.backend, info.log = PROCESS, str(log)
    try:
        with open(log, "wb") as out:
            proc = supervisor.spawn([*plan.wrap, str(binary), *plan.args], cwd=plan.cwd or records.work_dir(service.name),
                                    env={**os.environ, **plan.env}, stdout=out, stderr=subprocess.STDOUT,
                                    label=f"service {service.name}", role=records.role(service.name), meta=info.meta(),
                                    log=log)
    except OSError as exc:
        raise ServiceError(f"{binary} could not run ({exc.strerror or exc}): reinstall it with `workshop prepare`") from None
    child = supervisor.find(proc)
    assert child is not None
    info.child, info.pid, info.created = child.id, child.pid, child.created
    info.owner, info.owner_created = child.owner, child.owner_created


def exited(info: ServiceInfo) -> str | None:
    """Why the service is gone (exit code), or None while it runs."""
    child = supervisor.find(info.child)
    return "it is no longer running" if child is None else supervisor.exited(child)


def log_text(info: ServiceInfo) -> str:
    return read_tail(info.log or records.log_path(info.name))
