"""`workshop env` with the local processes backend, against the real Envoy, registry and go-httpbin."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import stat
from pathlib import Path

import pytest

from tests.env.conftest import env_cli, free_ports, wait_until
from workshop.env import http, services, supervisor
from workshop.env.services import Ports

pytestmark = pytest.mark.usefixtures("needs_binaries")


def gone(pid: int, created: float | None) -> bool:
    return not supervisor.same_process(pid, created)


@pytest.mark.slow
def test_up_status_logs_down_every_service(ports: Ports) -> None:
    proc = env_cli("up", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    up = {s["name"]: s for s in json.loads(proc.stdout)["services"]}
    assert set(up) == {"envoy", "registry", "httpbin"}
    assert up["envoy"]["url"] == f"http://127.0.0.1:{ports.envoy}"
    assert all(s["backend"] == "process" and s["owner"] is None and s["pid"] for s in up.values())

    # each answers its readiness probe; Envoy routes to httpbin, which echoes the request
    assert http.request(f"http://127.0.0.1:{ports.registry}/v2/").status == 200
    assert http.request(f"http://127.0.0.1:{ports.envoy_admin}/ready").text.strip() == "LIVE"
    echoed = json.loads(http.request(f"http://127.0.0.1:{ports.envoy}/get", headers={"x-probe": "1"}).text)
    assert echoed["headers"]["X-Probe"] == ["1"]

    # they outlive the `env up` command, and the check runner's reaping leaves them alone
    assert supervisor.reap() == []
    status = json.loads(env_cli("status", "--json").stdout)["services"]
    assert [s["name"] for s in status if s["up"]] == ["httpbin", "registry", "envoy"]
    text = env_cli("status").stdout
    assert f"http://127.0.0.1:{ports.envoy}" in text and "until `workshop env down`" in text

    logs = env_cli("logs", "registry", "--lines", "200")
    assert logs.returncode == 0 and f"listening on 127.0.0.1:{ports.registry}" in logs.stdout

    pids = {n: (s["pid"], s["created"]) for n, s in up.items()}
    down = env_cli("down")
    assert down.returncode == 0, down.stderr
    assert "Stopped: envoy, registry, httpbin." in down.stdout
    assert all(gone(*p) for p in pids.values())
    assert all(http.port_free(p) for p in (ports.envoy, ports.envoy_admin, ports.registry, ports.httpbin))
    assert "Nothing runs" in env_cli("status").stdout
    assert "listening on" in env_cli("logs", "registry").stdout  # the last run's log is kept


def test_ensure_reuses_what_runs_and_starts_what_is_needed(ports: Ports) -> None:
    first = services.ensure(["envoy"])  # Envoy routes to httpbin, so httpbin comes up too
    assert set(first) == {"httpbin", "envoy"}
    assert first["envoy"].details["upstream"] == ports.httpbin
    again = services.ensure(["httpbin", "registry"])
    assert again["httpbin"].pid == first["httpbin"].pid
    assert {i.name for i in services.status()} == {"httpbin", "envoy", "registry"}
    with pytest.raises(services.ServiceError, match="already up as a local process"):
        services.ensure(["httpbin"], backend="docker")
    assert services.down(["envoy"]) == ["envoy"]
    assert {i.name for i in services.status()} == {"httpbin", "registry"}


def test_a_taken_port_is_named_with_the_way_to_choose_another(ports: Ports) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports.registry))
        s.listen()
        proc = env_cli("up", "registry")
    assert proc.returncode == 1
    assert f"port {ports.registry} on 127.0.0.1" in proc.stderr
    assert "--registry-port N" in proc.stderr and "WORKSHOP_PORT_REGISTRY" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert services.status() == []


def test_two_services_on_one_port_is_refused(ports: Ports) -> None:
    proc = env_cli("up", "--registry-port", str(ports.httpbin))
    assert proc.returncode == 1 and "both want port" in proc.stderr


def test_a_missing_binary_says_workshop_prepare(isolated: Path, monkeypatch: pytest.MonkeyPatch, ports: Ports) -> None:
    monkeypatch.setenv("WORKSHOP_TOOLS_DIR", str(isolated / "no-tools"))  # nothing prepared
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    proc = env_cli("up", "registry")
    assert proc.returncode == 1
    assert "`registry` was not found" in proc.stderr and "workshop prepare" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_missing_envoy_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, ports: Ports, tmp_path: Path) -> None:
    monkeypatch.setenv("ENVOY_PATH", str(tmp_path / "no-envoy"))
    proc = env_cli("up", "envoy")
    assert proc.returncode == 1 and "ENVOY_PATH" in proc.stderr
    assert services.status() == []  # httpbin, started for it, was stopped again


def test_a_service_that_exits_at_start_shows_its_last_log_lines(isolated: Path, ports: Ports,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKSHOP_TOOLS_DIR", str(isolated / "tools"))  # prepared tools of its own: a broken go-httpbin
    fake = isolated / "tools" / "bin" / "go-httpbin"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\necho 'flag provided but not defined: -bogus' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    proc = env_cli("up", "httpbin")
    assert proc.returncode == 1
    assert "httpbin did not start: it exited with code 3" in proc.stderr
    assert "flag provided but not defined" in proc.stderr
    assert services.status() == []


def test_usage_mistakes_exit_2(ports: Ports, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = env_cli("up", "nginx")
    assert proc.returncode == 2 and "there is no service called 'nginx': choose from httpbin, registry," in proc.stderr
    assert env_cli("logs", "nginx").returncode == 2
    monkeypatch.setenv("WORKSHOP_PORT_REGISTRY", "five")
    proc = env_cli("up", "registry")
    assert proc.returncode == 2 and "WORKSHOP_PORT_REGISTRY=five is not a port number" in proc.stderr
    assert "has not run yet" in env_cli("logs", "envoy").stderr


def test_down_when_nothing_runs(ports: Ports) -> None:
    proc = env_cli("down", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout) == {"ok": True, "stopped": []}


def test_a_service_that_died_is_forgotten(ports: Ports) -> None:
    info = services.ensure(["httpbin"], detached=True)["httpbin"]
    os.kill(info.pid, 9)
    assert wait_until(lambda: services.status() == [], timeout=5)
    assert services.ensure(["httpbin"])["httpbin"].pid != info.pid  # and it can be started again


def test_envoy_follows_httpbin_when_it_moves(ports: Ports) -> None:
    first = services.ensure(["envoy"])
    services.down(["httpbin"])
    moved = Ports(ports.envoy, ports.envoy_admin, ports.registry, free_ports(1)[0])
    up = services.ensure(["envoy"], ports=moved)
    assert up["envoy"].details["upstream"] == moved.httpbin and up["envoy"].pid != first["envoy"].pid
    assert http.request(f"{up['envoy'].url}/get").status == 200


def test_status_need_not_wait_for_another_start(ports: Ports) -> None:
    info = services.ensure(["httpbin"])["httpbin"]
    fd = os.open(supervisor.registry() / ".lock", os.O_RDWR)
    try:  # another process holding the lock looks like this: a second open file description
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert [i.pid for i in services.status(wait=False)] == [info.pid]
    finally:
        os.close(fd)


def test_the_module_server_serves_its_folder_with_the_workshops_python(ports: Ports, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    port = free_ports(1)[0]
    monkeypatch.setenv("WORKSHOP_PORT_MODULES", str(port))
    proc = env_cli("up", "modules", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    info = json.loads(proc.stdout)["services"][0]
    folder = Path(info["details"]["folder"])
    assert info["url"] == f"http://127.0.0.1:{port}" and folder.is_dir()
    (folder / "plugin.wasm").write_bytes(b"\0asm\1\0\0\0")
    answer = http.request(f"http://127.0.0.1:{port}/plugin.wasm")
    assert answer.status == 200 and answer.body == b"\0asm\1\0\0\0"
    assert f"serves {folder}" in env_cli("status").stdout
    child = supervisor.find(info["child"])
    assert child is not None and child.argv[:3] == [sys.executable, "-m", "http.server"]  # never a python3 from PATH
    assert env_cli("down", "modules").returncode == 0 and http.port_free(port)
