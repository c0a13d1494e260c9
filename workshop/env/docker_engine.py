"""The Docker engine, when one answers: a client, what to do when it does not, and the few things the
supervisor asks of a container (does it run, why did it end, remove it and keep its log).

The one answer to "does Docker answer" is ``client()`` (its ping): ``available()``, ``version()``
(`workshop doctor`), the Docker backend, the grading sandbox and the tests' skip all ask it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from workshop.core.atomic import write_atomic
from workshop.core.errors import WorkshopError

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

PING_TIMEOUT = 3.0
API_TIMEOUT = 120.0

_clients: dict[str, DockerClient] = {}  # by DOCKER_HOST


class EngineError(WorkshopError):
    """The Docker engine does not answer, or failed mid-way; the message says how to get it going."""


DOCKER_INSTALL = "`apt-get install -y docker.io && dockerd &`"


def docker_fix() -> str:
    if shutil.which("dockerd"):
        return "start it with `dockerd > /var/log/dockerd.log 2>&1 &` (as root)"
    return f"install and start it with {DOCKER_INSTALL}"


def short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return text if len(text) < 160 else text[:157] + "..."


def client() -> DockerClient:
    """A client of an engine that answers; EngineError with the fix otherwise."""
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if where in _clients:
        return _clients[where]
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        raise EngineError("the Docker backend needs the docker package: `pip install docker`") from None
    try:
        c = docker.from_env(timeout=PING_TIMEOUT)  # asks the engine its API version: a ping
        c.ping()
    except (DockerException, OSError) as exc:
        text = str(exc)
        why = "nothing listens there" if ("FileNotFoundError" in text or "Connection refused" in text) else short(exc)
        raise EngineError(
            f"the Docker engine does not answer at {where} ({why}): {docker_fix()}, "
            "or use the local processes backend (`--backend process`)"
        ) from None
    c.api.timeout = API_TIMEOUT
    _clients[where] = c
    return c


def available() -> bool:
    try:
        client()
    except EngineError:
        return False
    return True


def version() -> str:
    """The engine's version ("26.1.5"); EngineError with the fix when it does not answer."""
    with engine_errors():
        return str(client().version().get("Version") or "unknown")


@contextmanager
def engine_errors() -> Iterator[None]:
    """Turn the engine failing mid-way (it stopped, the socket broke) into an EngineError."""
    try:
        yield
    except WorkshopError:
        raise
    except Exception as exc:
        if type(exc).__module__.split(".")[0] in ("docker", "requests", "urllib3"):
            _clients.clear()
            raise EngineError(f"the Docker engine failed ({short(exc)}): check it runs, or {docker_fix()}") from None
        raise


def container(ref: str) -> Container | None:
    from docker.errors import NotFound

    try:
        return client().containers.get(ref)
    except NotFound:
        return None


def container_ended(ref: str) -> str | None:
    """Why the container is not running, or None while it runs."""
    try:
        found = container(ref)
    except Exception:  # noqa: BLE001 - the engine is gone, and its containers with it
        _clients.clear()
        return "the Docker engine no longer answers"
    if found is None:
        return "its container is gone"
    if found.status in ("created", "running", "restarting"):
        return None
    code = found.attrs.get("State", {}).get("ExitCode")
    return f"its container stopped ({found.status}, exit code {code})"


def container_running(ref: str) -> bool:
    return container_ended(ref) is None


def remove_container(ref: str, grace: float = 2.0, keep_log: Path | None = None) -> None:
    """Stop and remove a container (it may be gone already); its log is kept in ``keep_log``."""
    from docker.errors import APIError, NotFound

    found = container(ref)
    if found is None:
        return
    try:
        if found.status == "running":
            found.stop(timeout=int(grace))
        if keep_log is not None:
            write_atomic(keep_log, found.logs(tail=5000))
        found.remove(force=True)
    except NotFound:
        pass
    except APIError as exc:
        raise EngineError(f"Docker could not remove the container {ref}: {short(exc)}") from None
