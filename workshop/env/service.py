"""What a service is: its ports, how to run it (a plan), when it is ready, and what it does once ready.

The lab services (catalog.py) and the mesh's (env/mesh) are all of this kind, so one lifecycle starts,
reuses, lists and stops every one of them, as local processes or as containers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from workshop.env import http
from workshop.env.ports import Ports
from workshop.env.service_records import ServiceError
from workshop.env.tools import tool_path

if TYPE_CHECKING:
    from workshop.env.service_records import ServiceInfo

PREPARE_FIX = "run `workshop prepare` (it installs it), or put it on PATH"


@dataclass
class Plan:
    """How to run a service: arguments after the binary, files to mount (containers), environment.

    ``wrap`` goes before the binary as a local process (the sidecar's own view of /var/lib); a
    container needs none."""

    args: list[str]
    mounts: dict[str, tuple[str, str]] = field(default_factory=dict)  # host path -> (container path, "ro"|"rw")
    env: dict[str, str] = field(default_factory=dict)
    details: dict[str, str | int] = field(default_factory=dict)
    wrap: list[str] = field(default_factory=list)
    cwd: Path | None = None


IN_CONTAINER = "/etc/wasm-workshop"


class Service:
    """One kind of service. ``ports`` maps the name shown to the learner to a field of ``Ports``."""

    name = ""
    title = ""
    binary_name = ""
    ports: ClassVar[dict[str, str]] = {}
    needs: tuple[str, ...] = ()
    # (service, its field of Ports) that its configuration sends traffic to, fixed when it starts
    upstream: ClassVar[tuple[str, str] | None] = None
    yours_welcome = False  # the same kind of service already on its port (the learner's own) is used as it is

    def binary(self) -> Path:
        path = tool_path(self.binary_name)
        if path is None:
            raise ServiceError(f"{self.title} is needed for {self.name} but `{self.binary_name}` was not found: {PREPARE_FIX}")
        return path

    def image_version(self) -> str:
        """The tag of the image built from this binary."""
        return "latest"

    def port_map(self, ports: Ports) -> dict[str, int]:
        return {key: getattr(ports, attr) for key, attr in self.ports.items()}

    def plan(self, ports: Ports, *, in_container: bool, up: dict[str, ServiceInfo]) -> Plan:
        """How to run it; ``up`` holds the services already running (what it needs among them)."""
        raise NotImplementedError

    def ready(self, ports: dict[str, int]) -> bool:
        raise NotImplementedError

    def upstream_port(self, ports: Ports, up: dict[str, ServiceInfo]) -> int | None:
        """Where its upstream answers now: the running one's port, else the one chosen for it (None: it has none)."""
        if self.upstream is None:
            return None
        name, port = self.upstream
        return up[name].port if name in up else getattr(ports, port)

    def outdated(self, info: ServiceInfo, ports: Ports, up: dict[str, ServiceInfo]) -> str | None:
        """Why the running one must start again before it is used (its upstream moved since it started), or None.
        ``up`` holds the services already running."""
        now = self.upstream_port(ports, up)
        if self.upstream is None or now is None or info.details.get("upstream") == now:
            return None
        return f"its upstream {self.upstream[0]} is now on port {now}"

    def after_ready(self, info: ServiceInfo, ports: Ports, say: Callable[[str], None]) -> None:
        """What a service sets up once it answers, before what needs it starts (the mesh's CRDs, say)."""

    def image_files(self) -> list[tuple[Path, str]]:
        """What its container image holds: (file on this machine, path in the image); the binary by default."""
        return [(self.binary(), f"/usr/local/bin/{self.binary_name}")]


def get(url: str) -> http.Response | None:
    """An answer from 127.0.0.1, or None while nothing answers."""
    try:
        return http.request(url, timeout=1.0)
    except http.NoResponse:
        return None


