"""The Docker backend: each service in a container of a locally built image, on the host network only.

Containers use ``network_mode="host"`` so services listen on 127.0.0.1 like the processes backend
(never a bridge network: only loopback addresses may receive traffic here). Every container carries
labels: ``wasm-workshop.service``, ``wasm-workshop.state`` (which state folder started it, so a test
never touches a learner's), ``wasm-workshop.owner`` (the pid:start-time of the process that created
it). The record is written between create and start, so a container with no record is debris from
a crash and is removed once its creator is gone.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from workshop.core.atomic import write_atomic
from workshop.env.services import images, records
from workshop.env.services.catalog import Plan, Service
from workshop.env.services.records import DOCKER, ServiceError, ServiceInfo

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

SERVICE_LABEL = "wasm-workshop.service"
STATE_LABEL = "wasm-workshop.state"
OWNER_LABEL = "wasm-workshop.owner"
PING_TIMEOUT = 3.0
API_TIMEOUT = 120.0

_clients: dict[str, DockerClient] = {}  # by DOCKER_HOST


def docker_fix() -> str:
    if shutil.which("dockerd"):
        return "start it with `dockerd > /var/log/dockerd.log 2>&1 &` (as root)"
    return "install and start it with `apt-get install -y docker.io && dockerd &`"


def client() -> DockerClient:
    """A client of an engine that answers; ServiceError with the fix otherwise."""
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if where in _clients:
        return _clients[where]
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        raise ServiceError("the Docker backend needs the docker package: `pip install docker`") from None
    try:
        c = docker.from_env(timeout=int(PING_TIMEOUT))  # asks the engine its API version: a ping
        c.ping()
    except (DockerException, OSError) as exc:
        text = str(exc)
        why = "nothing listens there" if ("FileNotFoundError" in text or "Connection refused" in text) else _short(exc)
        raise ServiceError(
            f"the Docker engine does not answer at {where} ({why}): {docker_fix()}, "
            "or use the local processes backend (`--backend process`)"
        ) from None
    c.api.timeout = API_TIMEOUT
    _clients[where] = c
    return c


def available() -> bool:
    try:
        client()
    except ServiceError:
        return False
    return True


@contextmanager
def engine_errors() -> Iterator[None]:
    """Turn the engine failing mid-way (it stopped, the socket broke) into a ServiceError."""
    try:
        yield
    except ServiceError:
        raise
    except Exception as exc:
        if type(exc).__module__.split(".")[0] in ("docker", "requests", "urllib3"):
            _clients.clear()
            raise ServiceError(f"the Docker engine failed ({_short(exc)}): check it runs, or {docker_fix()}") from None
        raise


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return text if len(text) < 160 else text[:157] + "..."


def launch(service: Service, plan: Plan, info: ServiceInfo, progress: Callable[[str], None]) -> None:
    """Create the container, record it, start it; fills in container, image and log."""
    from docker.errors import APIError

    c = client()
    image = images.ensure_image(c, service, progress)
    owner_pid, owner_ticks = records.me()
    labels = {SERVICE_LABEL: service.name, STATE_LABEL: records.state_key(),
              OWNER_LABEL: records.owner_label(owner_pid, owner_ticks), "wasm-workshop.state-dir": str(records.services_dir())}
    volumes = {host: {"bind": inside, "mode": mode} for host, (inside, mode) in plan.mounts.items()}
    try:
        container = c.containers.create(
            image, command=plan.args, detach=True, network_mode="host", labels=labels, volumes=volumes,
            environment=plan.env, user=f"{os.getuid()}:{os.getgid()}", init=True,
        )
    except APIError as exc:
        raise ServiceError(f"Docker could not create the {service.name} container: {images._reason(exc)}") from None
    info.backend, info.container, info.image = DOCKER, container.id, image
    info.log = str(records.log_path(service.name))
    records.save(info)
    try:
        container.start()
    except APIError as exc:
        remove(info)
        raise ServiceError(f"Docker could not start the {service.name} container: {images._reason(exc)}") from None


def _container(info: ServiceInfo) -> Container | None:
    from docker.errors import NotFound

    try:
        return client().containers.get(info.container or "")
    except NotFound:
        return None


def exited(info: ServiceInfo) -> str | None:
    container = _container(info)
    if container is None:
        return "its container is gone"
    if container.status in ("created", "running", "restarting"):
        return None
    code = container.attrs.get("State", {}).get("ExitCode")
    return f"its container stopped ({container.status}, exit code {code})"


def running(info: ServiceInfo) -> bool:
    try:
        return exited(info) is None
    except Exception:  # noqa: BLE001 - the engine is gone (and its containers with it) or broke mid-way
        _clients.clear()
        return False


def log_text(info: ServiceInfo) -> str:
    """The container's log, or what `down` saved of it."""
    container = _container(info) if info.container else None
    if container is not None:
        return container.logs(tail=2000).decode("utf-8", errors="replace")
    try:
        return records.log_path(info.name).read_text(errors="replace")
    except OSError:
        return ""


def remove(info: ServiceInfo, grace: float = 2.0) -> None:
    """Stop and remove the container; its log is kept in the service's log file."""
    from docker.errors import APIError, NotFound

    container = _container(info)
    if container is None:
        return
    try:
        if container.status == "running":
            container.stop(timeout=int(grace))
        write_atomic(records.log_path(info.name), container.logs(tail=5000))
        container.remove(force=True)
    except NotFound:
        pass
    except APIError as exc:
        raise ServiceError(f"Docker could not remove the {info.name} container {info.container}: {images._reason(exc)}") from None


def sweep(known: set[str]) -> list[str]:
    """Remove this state folder's containers that no record knows and whose creator is gone."""
    removed = []
    for container in client().containers.list(all=True, filters={"label": f"{STATE_LABEL}={records.state_key()}"}):
        if container.id in known or records.owner_label_alive(container.labels.get(OWNER_LABEL, "")):
            continue
        container.remove(force=True)
        removed.append(container.labels.get(SERVICE_LABEL, container.id))
    return removed
