"""A running service as the learner sees it, kept in the supervisor's one registry.

A service is one child of the supervisor (a process or a container) whose role is
``service:<name>``; what makes it a service (its name, backend, ports, where its log is) is kept
with that child (``Child.meta``). So there is one record per service, written before it starts and
removed when it stops, and the supervisor's owners, lock and reaping apply to services as to anything.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from workshop.core.errors import WorkshopError
from workshop.core.locations import state_dir
from workshop.env import supervisor
from workshop.env.supervisor import Child

HOST = "127.0.0.1"
PROCESS, DOCKER = "process", "docker"
YOURS = "yours"  # a service the learner already runs on its port: used as it is, never stopped
ROLE = "service:"
KEPT = ("name", "backend", "ports", "host", "image", "log", "details")  # what the child's meta holds


class ServiceError(WorkshopError):
    """A service could not be started, found or stopped; the message says why and what to do."""


@dataclass
class ServiceInfo:
    """A running service: where it answers, what runs it, who owns it and where its log is."""

    name: str
    backend: str  # "process", "docker", or "yours" (already running, not started by the workshop)
    ports: dict[str, int]  # {"http": 8080}; Envoy: {"listener": 10000, "admin": 9901}
    host: str = HOST
    image: str | None = None
    log: str = ""  # the log file; for a container, where its log is kept once it is removed
    details: dict[str, str | int] = field(default_factory=dict)  # e.g. Envoy's upstream port
    child: str = ""  # the supervisor's id for it
    pid: int | None = None
    created: float | None = None  # when its process started: tells it from a later process with its pid
    container: str | None = None  # the container id (docker backend)
    owner: int | None = None  # the pid whose end stops it; None: it runs until `workshop env down`
    owner_created: float | None = None
    started: float = 0.0

    @property
    def port(self) -> int:
        """The port a learner talks to (Envoy's listener, the registry's, httpbin's)."""
        return next(iter(self.ports.values()))

    @property
    def url(self) -> str:
        scheme = "https" if next(iter(self.ports), "") == "https" else "http"  # the API server speaks only TLS
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def admin_url(self) -> str | None:
        return f"http://{self.host}:{self.ports['admin']}" if "admin" in self.ports else None

    @property
    def detached(self) -> bool:
        return self.owner is None

    def meta(self) -> dict:
        return {k: getattr(self, k) for k in KEPT}

    def to_dict(self) -> dict:
        return {**asdict(self), "url": self.url, "admin_url": self.admin_url}

    @classmethod
    def from_child(cls, child: Child) -> ServiceInfo:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in child.meta.items() if k in known}, child=child.id, pid=child.pid,
                   created=child.created, container=child.container, owner=child.owner, owner_created=child.owner_created, started=child.started)


def role(name: str) -> str:
    return ROLE + name


def services_dir() -> Path:
    """Where services keep their generated configuration and logs."""
    return state_dir() / "services"


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


def load_all() -> dict[str, ServiceInfo]:
    """The recorded services, by name."""
    return {c.meta["name"]: ServiceInfo.from_child(c) for c in supervisor.children(ROLE) if "name" in c.meta}


def save(info: ServiceInfo) -> None:
    """Keep what changed about a service (its ports, details, owner) with its child."""
    child = supervisor.find(info.child)
    if child is not None:
        child.owner, child.owner_created = info.owner, info.owner_created
        supervisor.update(child, meta=info.meta())


def forget(name: str) -> None:
    for child in supervisor.children(role(name)):
        supervisor.forget(child)


def owner_alive(info: ServiceInfo) -> bool:
    return info.owner is None or supervisor.same_process(info.owner, info.owner_created)


def owner_label(pid: int, created: float | None) -> str:
    """Who created a container, as its label says it: ``pid:start-time``."""
    return f"{pid}:{created or 0}"


def owner_label_alive(label: str) -> bool:
    pid, _, created = label.partition(":")
    try:
        when = float(created) or None
    except ValueError:
        when = None
    return pid.isdigit() and supervisor.same_process(int(pid), when)
