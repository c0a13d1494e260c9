"""Start, reuse, list and stop the services, through the one supervisor.

Two lifetimes. A *detached* service (`workshop env up`) runs until `workshop env down`. An *owned*
service (the TUI, a test, a check that asks with ``detached=False``, the default) belongs to the
process that started it: the supervisor stops it when that process exits (normally, on Ctrl-C, on
SIGTERM/SIGHUP) and, after a kill -9, at the next ``reap()`` of any workshop process, which sees the
owner gone (or its pid recycled: start times are compared).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from types import ModuleType

from workshop.core import waiting
from workshop.core.errors import UsageError, WorkshopError
from workshop.env import http, supervisor
from workshop.env import service_records as records
from workshop.env.ports import Ports, how_to_change
from workshop.env.service import Service
from workshop.env.service_records import (
    DOCKER,
    PROCESS,
    YOURS,
    ServiceError,
    ServiceInfo,
)
from workshop.env.services import catalog, containers, processes
from workshop.env.services.catalog import SERVICES

Progress = Callable[[str], None]
READY_TIMEOUT = 30.0
BACKENDS = (PROCESS, DOCKER)


def _quiet(_message: str) -> None:
    pass


def _backend(name: str) -> ModuleType:
    return containers if name == DOCKER else processes


def choose_backend(backend: str | None = None) -> str:
    """``backend``, else $WORKSHOP_BACKEND, else local processes; "auto" is Docker when an engine answers."""
    chosen = (backend or os.environ.get("WORKSHOP_BACKEND") or PROCESS).strip().lower()
    if chosen == "auto":
        return DOCKER if containers.available() else PROCESS
    if chosen not in BACKENDS:
        raise UsageError(f"there is no backend called {chosen!r}: choose process, docker or auto")
    return chosen


def _stop(info: ServiceInfo) -> None:
    child = supervisor.find(info.child)
    if child is not None:
        supervisor.stop(child)
    records.forget(info.name)


def _running(info: ServiceInfo) -> bool:
    return _backend(info.backend).exited(info) is None


def reap(*, sweep_docker: bool = False) -> list[str]:
    """Stop services whose owner is gone and forget those that stopped by themselves; the names stopped.

    Containers no record knows, left by a creator that is gone (a crash between create and record), go too.
    """
    with supervisor.locked():
        before = records.load_all()
        stopped = [c.meta.get("name", c.label) for c in supervisor.reap() if c.role.startswith(records.ROLE)]
        for info in records.load_all().values():
            if info.backend == DOCKER and not _running(info):
                records.forget(info.name)  # it died on its own; its log stays for `workshop env logs`
        uses_docker = any(i.backend == DOCKER for i in before.values())
        if (sweep_docker or uses_docker) and containers.available():
            known = {i.container for i in records.load_all().values() if i.container}
            with containers.engine_errors():
                stopped += containers.sweep(known)
    return stopped


def _yours(service: Service, ports: Ports) -> ServiceInfo | None:
    """The same kind of service, already running on the service's ports and not started by the
    workshop (a learner's `docker run -p 5000:5000 registry:2`), or None."""
    port_map = service.port_map(ports)
    if not service.yours_welcome or any(http.port_free(p) for p in port_map.values()):
        return None
    return ServiceInfo(name=service.name, backend=YOURS, ports=port_map) if service.ready(port_map) else None


def _check_ports(to_start: list[Service], ports: Ports, taken_by_us: dict[int, str]) -> None:
    seen: dict[int, str] = {}
    for service in to_start:
        for key, attr in service.ports.items():
            port = getattr(ports, attr)
            who = service.name if key in ("http", "listener") else f"{service.name}'s {key} port"
            if port in seen or port in taken_by_us:
                other = seen.get(port) or taken_by_us[port]
                raise ServiceError(f"{who} and {other} both want port {port}: choose another with {how_to_change(attr)}")
            seen[port] = who
            if not http.port_free(port):
                raise ServiceError(
                    f"port {port} on 127.0.0.1, wanted by {who}, is already in use: stop what uses it "
                    f"(`ss -ltnp 'sport = :{port}'` shows it), or choose another with {how_to_change(attr)}"
                )


def _failure(info: ServiceInfo, why: str) -> str:
    text = _backend(info.backend).log_text(info)
    lines = [ln for ln in text.splitlines() if ln.strip()][-8:]
    tail = "\n".join(f"  | {ln}" for ln in lines) or "  (its log is empty)"
    return f"{info.name} did not start: {why}. Its last log lines:\n{tail}"


def _wait_ready(starting: list[ServiceInfo], timeout: float, say: Progress) -> None:
    began = time.monotonic()
    not_ready = list(starting)
    failed: list[ServiceInfo] = []

    def ended() -> str | None:
        for info in not_ready:
            why = _backend(info.backend).exited(info)
            if why:
                failed.append(info)
                return why
        return None

    def all_ready() -> bool:
        for info in list(not_ready):
            if SERVICES[info.name].ready(info.ports):
                say(f"{info.name} is ready on {info.url} ({time.monotonic() - began:.1f} s)")
                not_ready.remove(info)
        return not not_ready

    waited = waiting.until(all_ready, ended=ended, timeout=timeout, every=0.02)
    if waited.ended:
        raise ServiceError(_failure(failed[0], waited.ended))
    if not waited.ready:
        raise ServiceError(_failure(not_ready[0], f"it was not ready within {timeout:g} s"))


def ensure(
    names: list[str] | tuple[str, ...] | None = None, *, backend: str | None = None, ports: Ports | None = None,
    progress: Progress | None = None, detached: bool = False, timeout: float = READY_TIMEOUT,
) -> dict[str, ServiceInfo]:
    """The services named (the lab's own when None) and what they need, up and ready; starts only what is not up.

    A running service is reused whatever owns it, unless ``backend`` or ``ports`` are given and differ
    (then ServiceError says to `workshop env down` it first). ``detached`` services outlive this process.
    """
    say = progress or _quiet
    wanted = catalog.resolve(names)
    asked_backend = backend or os.environ.get("WORKSHOP_BACKEND")
    chosen = choose_backend(backend)
    use = ports or Ports.from_env()
    with supervisor.locked(), containers.engine_errors():
        reap(sweep_docker=chosen == DOCKER)
        current = records.load_all()
        result: dict[str, ServiceInfo] = {}
        to_start: list[Service] = []
        for service in wanted:
            info = current.get(service.name)
            why = service.outdated(info, use, result) if info is not None else None
            if info is not None and why:  # what it was set up against moved: it must follow
                say(f"restarting {service.name}: {why}")
                _stop(info)
                del current[service.name]
                info = None
            if info is None:
                to_start.append(service)
                continue
            if asked_backend and asked_backend != "auto" and info.backend != chosen:
                raise ServiceError(f"{service.name} is already up as a {_kind(info.backend)}: "
                                   f"run `workshop env down {service.name}` first to switch it to {_kind(chosen)}")
            if ports is not None and info.ports != service.port_map(ports):
                raise ServiceError(f"{service.name} is already up on {_ports_text(info.ports)}: "
                                   f"run `workshop env down {service.name}` first to move it")
            say(f"{service.name} is already up on {info.url} ({_kind(info.backend)})")
            result[service.name] = info
        for service in list(to_start):
            yours = _yours(service, use)
            if yours is not None:  # the learner's own registry (say) answers on the port: use it
                say(f"{service.name}: using the one already running on {yours.url} ({_kind(YOURS)})")
                result[service.name] = yours
                to_start.remove(service)
        taken = {p: f"the running {n}" for n, i in current.items() for p in i.ports.values()}
        _check_ports(to_start, use, taken)
        started: list[ServiceInfo] = []
        supervisor.install_cleanup()  # SIGTERM/SIGHUP while they start unwind like Ctrl-C: what started is stopped
        try:
            pending: list[ServiceInfo] = []  # started, not yet ready: what needs one of them waits
            for service in to_start:
                if any(need in {p.name for p in pending} for need in service.needs):
                    _ready(pending, use, timeout, say)
                    pending = []
                started.append(_launch(service, chosen, use, result, say))
                result[service.name] = started[-1]
                pending.append(started[-1])
            _ready(pending, use, timeout, say)
            for info in started:
                _settle(info, detached)
        except BaseException:
            for info in started:
                try:
                    with containers.engine_errors():
                        _stop(info)
                except WorkshopError:
                    records.forget(info.name)
            raise
    return result


def _ready(starting: list[ServiceInfo], ports: Ports, timeout: float, say: Progress) -> None:
    """Wait until they all answer, then let each set up what it sets up once ready."""
    _wait_ready(starting, timeout, say)
    for info in starting:
        SERVICES[info.name].after_ready(info, ports, say)


def _launch(service: Service, backend: str, ports: Ports, result: dict[str, ServiceInfo], say: Progress) -> ServiceInfo:
    """Start it, owned by this process until it is ready (and detached then, if asked)."""
    plan = service.plan(ports, in_container=backend == DOCKER, up=result)
    info = ServiceInfo(name=service.name, backend=backend, ports=service.port_map(ports), details=dict(plan.details))
    say(f"starting {service.name} ({service.title}) as a {_kind(backend)} on {_ports_text(info.ports)}")
    if backend == DOCKER:
        containers.launch(service, plan, info, say)  # recorded between create and start
    else:
        processes.launch(service, plan, info)
    return info


def _settle(info: ServiceInfo, detached: bool) -> None:
    if detached:
        info.owner = info.owner_created = None
        records.save(info)


def _kind(backend: str) -> str:
    return {DOCKER: "container", YOURS: "yours, not started by the workshop"}.get(backend, "local process")


def _ports_text(ports: dict[str, int]) -> str:
    return ", ".join(f"127.0.0.1:{p}" + ("" if k in ("http", "listener") else f" ({k})") for k, p in ports.items())


def status(*, wait: bool = True) -> list[ServiceInfo]:
    """The services that run now (after cleaning up after dead owners), in start order.

    With ``wait=False`` (a display that refreshes), it does not wait while another process starts or
    stops services: it skips the clean-up and lists the recorded services that run.
    """
    try:
        with supervisor.locked(wait=wait):
            reap()
            current = records.load_all()
    except supervisor.Busy:
        with containers.engine_errors():
            current = {n: i for n, i in records.load_all().items() if _running(i)}
    ports = Ports.from_env()
    for name in SERVICES:
        if name not in current and (yours := _yours(SERVICES[name], ports)) is not None:
            current[name] = yours
    return [current[n] for n in SERVICES if n in current]


def down(names: list[str] | tuple[str, ...] | None = None, progress: Progress | None = None) -> list[str]:
    """Stop the services named (all when None), whoever owns them; the names that were running."""
    say = progress or _quiet
    targets = set(SERVICES) if names is None else {s.name for s in catalog.resolve(names, with_needs=False)}
    stopped = []
    with supervisor.locked(), containers.engine_errors():
        current = records.load_all()
        for name in reversed(list(SERVICES)):
            info = current.get(name)
            if name in targets and info is not None:
                say(f"stopping {name} ({_kind(info.backend)})")
                try:
                    with containers.engine_errors():
                        _stop(info)
                except WorkshopError:
                    if info.backend != DOCKER or containers.available():
                        raise
                    records.forget(name)  # no engine answers: its containers are gone with it
                    say(f"{name}: the Docker engine no longer answers; forgot its container")
                stopped.append(name)
        if names is None:
            stopped += [n for n in reap(sweep_docker=any(i.backend == DOCKER for i in current.values()))
                        if n not in stopped]
    return stopped


def logs(name: str, lines: int | None = 200) -> str:
    """The last ``lines`` of a service's log (all when None); the log of its last run when it is down."""
    service = catalog.resolve([name], with_needs=False)[0]
    info = records.load_all().get(service.name)
    yours = None
    with contextlib.suppress(UsageError):  # a bad WORKSHOP_PORT_*: the log is still worth showing
        yours = None if info is not None else _yours(service, Ports.from_env())
    if info is None and yours is not None:
        raise ServiceError(f"the {service.name} on {yours.url} is yours, not started by the workshop: "
                           "its log is wherever you started it (`docker logs CONTAINER` for a container)")
    if info is not None:
        with containers.engine_errors():
            text = _backend(info.backend).log_text(info)
    else:
        try:
            text = records.log_path(service.name).read_text(errors="replace")
        except OSError:
            raise ServiceError(f"{service.name} has not run yet, so it has no log: start it with "
                               f"`workshop env up {service.name}`") from None
    all_lines = text.splitlines()
    return "\n".join(all_lines[-lines:] if lines else all_lines)


def stop_owned() -> list[str]:
    """Stop the services this process owns (the supervisor also does so at exit); the names stopped."""
    stopped = []
    for info in records.load_all().values():
        if info.owner == os.getpid():
            with contextlib.suppress(WorkshopError):
                _stop(info)
            stopped.append(info.name)
    return stopped


def install_cleanup() -> None:
    """For an app whose services start in worker threads: call once from the main thread."""
    supervisor.install_cleanup()
