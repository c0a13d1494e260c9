"""The Docker backend: each service in a container of a locally built image, on the host network only.

Containers use ``network_mode="host"`` so services listen on 127.0.0.1 like the processes backend
(never a bridge network: only loopback addresses may receive traffic here). Every container carries
labels: ``wasm-workshop.service``, ``wasm-workshop.state`` (which state folder started it, so a test
never touches a learner's), ``wasm-workshop.owner`` (the pid:start-time of the process that created
it). The supervisor records the container between create and start, so a container no record knows
is debris from a crash and is removed (``sweep``) once its creator is gone.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from workshop.env import docker_engine, supervisor
from workshop.env import service_records as records
from workshop.env.docker_engine import EngineError, available, client, engine_errors
from workshop.env.service import Plan, Service
from workshop.env.service_records import DOCKER, ServiceError, ServiceInfo
from workshop.env.services import container_images

__all__ = ["EngineError", "available", "client", "engine_errors", "exited", "launch", "log_text", "running", "sweep"]

SERVICE_LABEL = "wasm-workshop.service"
STATE_LABEL = "wasm-workshop.state"
OWNER_LABEL = "wasm-workshop.owner"


def launch(service: Service, plan: Plan, info: ServiceInfo, progress: Callable[[str], None]) -> None:
    """Create the container, record it, start it; fills in its child, container, image and log."""
    from docker.errors import APIError

    c = client()
    image = container_images.ensure_image(c, service, progress)
    owner_pid, owner_created = supervisor.me()
    labels = {SERVICE_LABEL: service.name, STATE_LABEL: records.state_key(),
              OWNER_LABEL: records.owner_label(owner_pid, owner_created), "wasm-workshop.state-dir": str(records.services_dir())}
    volumes = {host: {"bind": inside, "mode": mode} for host, (inside, mode) in plan.mounts.items()}
    workdir = plan.mounts.get(str(plan.cwd), (None, ""))[0] if plan.cwd else None  # its folder, where it is mounted
    try:
        container = c.containers.create(
            image, command=plan.args, detach=True, network_mode="host", labels=labels, volumes=volumes,
            environment=plan.env, user=f"{os.getuid()}:{os.getgid()}", init=True, working_dir=workdir,
        )
    except APIError as exc:
        raise ServiceError(f"Docker could not create the {service.name} container: {container_images._reason(exc)}") from None
    info.backend, info.container, info.image = DOCKER, container.id, image
    info.log = str(records.log_path(service.name))
    child = supervisor.record_container(container.id, label=f"service {service.name}", role=records.role(service.name),
                                        meta=info.meta(), log=records.log_path(service.name))
    info.child, info.owner, info.owner_created = child.id, child.owner, child.owner_created
    try:
        container.start()
    except APIError as exc:
        supervisor.stop(child)
        raise ServiceError(f"Docker could not start the {service.name} container: {container_images._reason(exc)}") from None


def exited(info: ServiceInfo) -> str | None:
    return docker_engine.container_ended(info.container or "")


def running(info: ServiceInfo) -> bool:
    return exited(info) is None


def log_text(info: ServiceInfo) -> str:
    """The container's log, or what was kept of it when it was removed."""
    container = docker_engine.container(info.container) if info.container else None
    if container is not None:
        return container.logs(tail=2000).decode("utf-8", errors="replace")
    try:
        return records.log_path(info.name).read_text(errors="replace")
    except OSError:
        return ""


def sweep(known: set[str]) -> list[str]:
    """Remove this state folder's containers that no record knows and whose creator is gone."""
    removed = []
    for container in client().containers.list(all=True, filters={"label": f"{STATE_LABEL}={records.state_key()}"}):
        if container.id in known or records.owner_label_alive(container.labels.get(OWNER_LABEL, "")):
            continue
        container.remove(force=True)
        removed.append(container.labels.get(SERVICE_LABEL, container.id))
    return removed
