"""Services owned by a process end with it: normal exit, Ctrl-C, SIGTERM, and kill -9 (reaped at the next start)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.env.conftest import wait_until
from workshop.env import service_records as records
from workshop.env import services
from workshop.env.services import Ports

OWNER = textwrap.dedent("""
    import sys, time
    from workshop.env import services
    up = services.ensure(["httpbin"], backend=sys.argv[1])
    print("ready", flush=True)
    if sys.argv[2] == "exit":
        sys.exit(0)
    time.sleep(120)
""")



@pytest.fixture(params=["process", "docker"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "docker":
        request.getfixturevalue("docker_engine")  # skips when no engine answers
    return str(request.param)


def start_owner(backend: str, how: str) -> subprocess.Popen[str]:
    owner = subprocess.Popen([sys.executable, "-c", OWNER, backend, how], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    line = owner.stdout.readline()
    if line.strip() != "ready":
        owner.kill()
        pytest.fail(f"the owner did not start httpbin: {line}{owner.communicate(timeout=10)[1]}")
    return owner


def service_alive(info: services.ServiceInfo) -> bool:
    if info.backend == "docker":
        from workshop.env.services import containers

        return containers.running(info)
    from workshop.env import supervisor

    return supervisor.same_process(info.pid, info.created)


@pytest.mark.usefixtures("needs_binaries")
@pytest.mark.parametrize("how", ["exit", "SIGINT", "SIGTERM"])
def test_owned_services_stop_when_their_owner_ends(backend: str, how: str, ports: Ports) -> None:
    owner = start_owner(backend, how)
    info = records.load_all()["httpbin"]
    assert info.owner == owner.pid and info.backend == backend
    if how != "exit":
        owner.send_signal(getattr(signal, how))
    owner.communicate(timeout=30)
    assert not service_alive(info), f"httpbin outlived its owner ({how})"
    assert "httpbin" not in records.load_all()


@pytest.mark.usefixtures("needs_binaries")
def test_a_killed_owners_services_are_removed_at_the_next_start(backend: str, ports: Ports) -> None:
    owner = start_owner(backend, "stay")
    info = records.load_all()["httpbin"]
    owner.kill()
    owner.wait(timeout=10)
    assert service_alive(info), "kill -9 gives the owner no chance: httpbin should still run"
    # the next start (here: status) sees the owner is gone and removes what it owned
    assert services.status() == []
    assert wait_until(lambda: not service_alive(info), timeout=5)
    assert services.ensure(["httpbin"], backend=backend)["httpbin"].port == ports.httpbin


@pytest.mark.usefixtures("needs_binaries")
def test_a_recycled_owner_pid_is_not_mistaken_for_the_owner(ports: Ports) -> None:
    info = services.ensure(["httpbin"])["httpbin"]
    assert info.owner == os.getpid()
    info.owner_created = (info.owner_created or 0) + 1  # same pid, another start time: another process
    records.save(info)
    assert services.status() == []
