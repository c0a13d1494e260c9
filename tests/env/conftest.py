"""Live services tests: real binaries, free non-default ports, and proof that nothing outlives the suite.

Every test runs with its own state/data folders (tests/conftest.py), so containers and records are
scoped to it; the tools `workshop prepare` installed stay in view (WORKSHOP_TOOLS_DIR).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from workshop.env.services import Ports

BINARIES = ("registry", "go-httpbin")


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports the kernel has just handed out, so none is a learner's default."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


@pytest.fixture(scope="session")
def real_tools() -> dict[str, Path]:
    """Where registry and go-httpbin are: what `workshop prepare` installed (tests/conftest.py keeps it in view), or PATH."""
    from workshop.env.tools import tool_path

    return {name: path for name in BINARIES if (path := tool_path(name)) is not None}


@pytest.fixture
def needs_binaries(real_tools: dict[str, Path]) -> None:
    missing = [b for b in BINARIES if b not in real_tools]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: run `workshop prepare`")


@pytest.fixture
def ports(monkeypatch: pytest.MonkeyPatch) -> Ports:
    """Free ports, also in WORKSHOP_PORT_* so `workshop env` subprocesses use them."""
    chosen = Ports(*free_ports(4))
    for name in ("envoy", "envoy_admin", "registry", "httpbin"):
        monkeypatch.setenv(f"WORKSHOP_PORT_{name.upper()}", str(getattr(chosen, name)))
    return chosen


@pytest.fixture(autouse=True)
def stop_services(isolated: Path) -> Iterator[None]:
    """Whatever a test leaves up is stopped with its state folder still in place."""
    yield
    from workshop.core.errors import WorkshopError
    from workshop.env import services

    try:
        services.down()
    except WorkshopError:
        pass


def env_cli(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`workshop env ARGS` in a child process."""
    return subprocess.run([sys.executable, "-m", "workshop", "env", *args], capture_output=True, text=True, check=False,
                          timeout=timeout, env={**os.environ, **(env or {})})


def wait_until(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


# ---------------------------------------------------------------- nothing outlives the suite


def _our_processes(base: str) -> list[str]:
    """Processes (not zombies) started under this test session's folders, other than pytest itself."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"WORKSHOP_STATE_DIR={base}/".encode() in environ and "pytest" not in cmdline:
            found.append(f"pid {entry.name}: {cmdline[:120]}")
            try:
                os.kill(int(entry.name), signal.SIGKILL)  # report it, and do not leak it
            except OSError:
                pass
    return found


def _our_containers(base: str) -> list[str]:
    from workshop.env.services import containers

    try:
        client = containers.client()
    except Exception:  # noqa: BLE001 - no engine, no containers
        return []
    left = []
    for c in client.containers.list(all=True, filters={"label": containers.SERVICE_LABEL}):
        if c.labels.get("wasm-workshop.state-dir", "").startswith(base + "/"):
            left.append(f"container {c.short_id} ({c.labels.get(containers.SERVICE_LABEL)})")
            c.remove(force=True)
    return left


@pytest.fixture(scope="session", autouse=True)
def nothing_outlives_the_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the session: no process started under its folders and no container of it is left."""
    base = str(tmp_path_factory.getbasetemp())
    yield
    left = []
    if Path("/proc/self").is_dir():
        time.sleep(0.05)
        left = _our_processes(base)
    left += _our_containers(base)
    assert not left, "these outlived the test suite:\n" + "\n".join(left)
