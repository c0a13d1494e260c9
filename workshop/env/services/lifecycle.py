"""Start, reuse, list and stop the services; clean up after owners that exited or died.

Two lifetimes. A *detached* service (`workshop env up`) runs until `workshop env down`: its record
has no owner and its process is taken out of ``procs``' registry. An *owned* service (the TUI, a
test, a check that asks with ``detached=False``, the default) belongs to the process that started
it: that process stops it at normal exit, on Ctrl-C and on SIGTERM/SIGHUP (``install_cleanup``);
if the owner is killed with -9, the next ``ensure``/``status``/``down`` from any process sees the
owner's pid gone (or recycled: start times are compared) and stops it. ``procs.reap_stale()`` also
still knows an owned process, so the check runner's reaping agrees with ours.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType

from workshop.env import procs
from workshop.env.services import catalog, containers, processes, records
from workshop.env.services.catalog import SERVICES, Ports, Service
from workshop.env.services.records import (
    DOCKER,
    PROCESS,
    YOURS,
    ServiceError,
    ServiceInfo,
    UsageError,
)

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
    if info.backend == DOCKER:
        containers.remove(info)
    else:
        processes.stop(info)
    records.forget(info.name)


def _running(info: ServiceInfo) -> bool:
    return bool(_backend(info.backend).running(info))


def reap(*, sweep_docker: bool = False) -> list[str]:
    """Stop services whose owner is gone and forget those that stopped by themselves; the names stopped."""
    stopped = []
    with records.locked(), containers.engine_errors():
        current = records.load_all()
        for info in current.values():
            if not records.owner_alive(info):
                try:
                    with containers.engine_errors():
                        _stop(info)
                except ServiceError:
                    records.forget(info.name)  # its engine is gone, and the container with it
                stopped.append(info.name)
            elif not _running(info):
                records.forget(info.name)  # it died on its own; its log stays for `workshop env logs`
        uses_docker = any(i.backend == DOCKER for i in current.values())
        if (sweep_docker or uses_docker) and containers.available():
            known = {i.container for i in records.load_all().values() if i.container}
            stopped += containers.sweep(known)
    return stopped


def _yours(service: Service, ports: Ports) -> ServiceInfo | None:
    """The same kind of service, already running on the service's ports and not started by the
    workshop (a learner's `docker run -p 5000:5000 registry:2`), or None."""
    from workshop.env import http

    port_map = service.port_map(ports)
    if not service.yours_welcome or any(http.port_free(p) for p in port_map.values()):
        return None
    return ServiceInfo(name=service.name, backend=YOURS, ports=port_map) if service.ready(port_map) else None


def _check_ports(to_start: list[Service], ports: Ports, taken_by_us: dict[int, str]) -> None:
    from workshop.env import http

    seen: dict[int, str] = {}
    for service in to_start:
        for key, attr in service.ports.items():
            port = getattr(ports, attr)
            who = service.name if key in ("http", "listener") else f"{service.name}'s {key} port"
            if port in seen or port in taken_by_us:
                other = seen.get(port) or taken_by_us[port]
                raise ServiceError(f"{who} and {other} both want port {port}: choose another with {catalog.how_to_change(attr)}")
            seen[port] = who
            if not http.port_free(port):
                raise ServiceError(
                    f"port {port} on 127.0.0.1, wanted by {who}, is already in use: stop what uses it "
                    f"(`ss -ltnp 'sport = :{port}'` shows it), or choose another with {catalog.how_to_change(attr)}"
                )


def _failure(info: ServiceInfo, why: str) -> str:
    text = _backend(info.backend).log_text(info)
    lines = [ln for ln in text.splitlines() if ln.strip()][-8:]
    tail = "\n".join(f"  | {ln}" for ln in lines) or "  (its log is empty)"
    return f"{info.name} did not start: {why}. Its last log lines:\n{tail}"


def _wait_ready(starting: list[ServiceInfo], timeout: float, say: Progress) -> None:
    began = time.monotonic()
    waiting = list(starting)
    failed: list[ServiceInfo] = []

    def ended() -> str | None:
        for info in waiting:
            why = _backend(info.backend).exited(info)
            if why:
                failed.append(info)
                return why
        return None

    def all_ready() -> bool:
        for info in list(waiting):
            if SERVICES[info.name].ready(info.ports):
                say(f"{info.name} is ready on {info.url} ({time.monotonic() - began:.1f} s)")
                waiting.remove(info)
        return not waiting

    waited = procs.wait_ready(all_ready, ended=ended, timeout=timeout)
    if waited.ended:
        raise ServiceError(_failure(failed[0], waited.ended))
    if not waited.ready:
        raise ServiceError(_failure(waiting[0], f"it was not ready within {timeout:g} s"))


def ensure(
    names: list[str] | tuple[str, ...] | None = None, *, backend: str | None = None, ports: Ports | None = None,
    progress: Progress | None = None, detached: bool = False, timeout: float = READY_TIMEOUT,
) -> dict[str, ServiceInfo]:
    """The services named (all when None) and what they need, up and ready; starts only what is not up.

    A running service is reused whatever owns it, unless ``backend`` or ``ports`` are given and differ
    (then ServiceError says to `workshop env down` it first). ``detached`` services outlive this process.
    """
    say = progress or _quiet
    wanted = catalog.resolve(names)
    asked_backend = backend or os.environ.get("WORKSHOP_BACKEND")
    chosen = choose_backend(backend)
    use = ports or Ports.from_env()
    with records.locked(), containers.engine_errors():
        reap(sweep_docker=chosen == DOCKER)
        current = records.load_all()
        result: dict[str, ServiceInfo] = {}
        to_start: list[Service] = []
        for service in wanted:
            info = current.get(service.name)
            if info is not None and "httpbin" in service.needs:
                upstream = result["httpbin"].port if "httpbin" in result else use.httpbin
                if info.details.get("upstream") != upstream:  # httpbin moved: Envoy must follow it
                    say(f"restarting {service.name}: its upstream httpbin is now on port {upstream}")
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
        with _terminate_cleanly():
            try:
                for service in to_start:
                    started.append(_launch(service, chosen, use, result, say))
                    result[service.name] = started[-1]
                _wait_ready(started, timeout, say)
                for info in started:
                    _settle(info, detached)
            except BaseException:
                for info in started:
                    try:
                        with containers.engine_errors():
                            _stop(info)
                    except ServiceError:
                        records.forget(info.name)
                raise
    if started and not detached:
        install_cleanup()
    return result


def _launch(service: Service, backend: str, ports: Ports, result: dict[str, ServiceInfo], say: Progress) -> ServiceInfo:
    upstream = result["httpbin"].port if "httpbin" in result and "httpbin" in service.needs else None
    plan = service.plan(ports, in_container=backend == DOCKER, upstream=upstream)
    owner, ticks = records.me()  # owned by this process until it is ready (and detached, if asked)
    info = ServiceInfo(name=service.name, backend=backend, ports=service.port_map(ports), owner=owner,
                       owner_ticks=ticks, details=dict(plan.details))
    say(f"starting {service.name} ({service.title}) as a {_kind(backend)} on {_ports_text(info.ports)}")
    if backend == DOCKER:
        containers.launch(service, plan, info, say)  # records it between create and start
    else:
        processes.launch(service, plan, info)
        records.save(info)
    return info


def _settle(info: ServiceInfo, detached: bool) -> None:
    if detached:
        info.owner = info.owner_ticks = None
        if info.backend == PROCESS:
            processes.detach(info)
        records.save(info)
    with _owned_lock:
        if not detached:
            _owned.add(info.name)


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
        with records.locked(wait=wait):
            reap()
            current = records.load_all()
    except records.Busy:
        with containers.engine_errors():
            current = {n: i for n, i in records.load_all().items() if _running(i)}
    ports = Ports.from_env()
    for name in catalog.START_ORDER:
        if name not in current and (yours := _yours(SERVICES[name], ports)) is not None:
            current[name] = yours
    return [current[n] for n in catalog.START_ORDER if n in current]


def down(names: list[str] | tuple[str, ...] | None = None, progress: Progress | None = None) -> list[str]:
    """Stop the services named (all when None), whoever owns them; the names that were running."""
    say = progress or _quiet
    targets = {s.name for s in catalog.resolve(names, with_needs=False)}
    stopped = []
    with records.locked(), containers.engine_errors():
        current = records.load_all()
        for name in reversed(catalog.START_ORDER):
            info = current.get(name)
            if name in targets and info is not None:
                say(f"stopping {name} ({_kind(info.backend)})")
                try:
                    with containers.engine_errors():
                        _stop(info)
                except ServiceError:
                    if info.backend != DOCKER or containers.available():
                        raise
                    records.forget(name)  # no engine answers: its containers are gone with it
                    say(f"{name}: the Docker engine no longer answers; forgot its container")
                stopped.append(name)
        if names is None:
            stopped += [n for n in reap(sweep_docker=any(i.backend == DOCKER for i in current.values()))
                        if n not in stopped]
    with _owned_lock:
        _owned.difference_update(stopped)
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


# ---------------------------------------------------------------- owned services end with their owner

_owned: set[str] = set()
_owned_lock = threading.Lock()
_atexit_installed = False
_signals_installed = False


def stop_owned() -> list[str]:
    """Stop the services this process owns (what atexit and the signal handlers call); never raises."""
    with _owned_lock:
        names = set(_owned)
        _owned.clear()
    stopped = []
    if not names:
        return stopped
    pid = os.getpid()
    with contextlib.suppress(Exception), records.locked():  # what cannot be stopped now, the next start reaps
        for info in records.load_all().values():
            if info.name in names and info.owner == pid:
                try:
                    _stop(info)
                    stopped.append(info.name)
                except Exception:  # noqa: BLE001 - at exit, stop what can be stopped
                    records.forget(info.name)
    return stopped


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """While services start, SIGTERM/SIGHUP unwind like Ctrl-C, so what was started is stopped."""
    swapped = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) is signal.SIG_DFL:
                swapped[sig] = signal.signal(sig, _on_signal)
    try:
        yield
    finally:
        for sig, previous in swapped.items():
            if not _signals_installed:
                signal.signal(sig, previous)


def _on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds finally blocks; atexit then stops owned services


def install_cleanup() -> None:
    """Stop owned services at exit, and turn SIGTERM/SIGHUP into a normal exit (from the main thread).

    ``ensure`` calls it; an app whose services start in worker threads calls it once from the main thread.
    """
    global _atexit_installed, _signals_installed
    if not _atexit_installed:
        atexit.register(stop_owned)
        _atexit_installed = True
    if _signals_installed or threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:  # never replace a handler someone else installed
            signal.signal(sig, _on_signal)
    _signals_installed = True
