"""Live services for the labs: the gateway (Envoy), the OCI registry and the upstream (go-httpbin).

Two real backends: local processes (the default) and Docker containers built here from the same
binaries (``backend="docker"``, ``--backend docker`` or WORKSHOP_BACKEND=docker; "auto" picks Docker
when an engine answers). Everything binds to 127.0.0.1 on configurable ports (``Ports``).

    from workshop.env import services
    up = services.ensure(["httpbin"])            # owned: stopped when this process exits
    up["httpbin"].url                             # http://127.0.0.1:8080
    services.ensure(detached=True)                # what `workshop env up` does: runs until `env down`
    services.status(); services.logs("registry", 20); services.down()

How tracking works (records, owners, reaping after a crash): see ``lifecycle`` and ``records``.
"""

from __future__ import annotations

from workshop.env.ports import Ports
from workshop.env.service_records import (
    DOCKER,
    PROCESS,
    YOURS,
    ServiceError,
    ServiceInfo,
)
from workshop.env.services.catalog import GROUPS, LAB_SERVICES, SERVICES
from workshop.env.services.lifecycle import (
    BACKENDS,
    choose_backend,
    down,
    ensure,
    install_cleanup,
    logs,
    reap,
    status,
    stop_owned,
)

__all__ = [
    "BACKENDS", "DOCKER", "GROUPS", "LAB_SERVICES", "PROCESS", "YOURS", "SERVICES", "Ports", "ServiceError", "ServiceInfo",
    "choose_backend", "down", "ensure", "install_cleanup", "logs", "reap", "status", "stop_owned",
]
