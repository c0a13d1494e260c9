"""`workshop env` with the Docker backend: images built here from the binaries, host network, labels."""

from __future__ import annotations

import json
import socket
import subprocess

import pytest

from tests.env.conftest import env_cli
from workshop.env import http, services, supervisor
from workshop.env import service_records as records
from workshop.env.services import Ports, container_images, containers


def test_docker_asked_for_but_not_running_says_how_to_start_it(ports: Ports) -> None:
    proc = env_cli("up", "httpbin", "--backend", "docker", env={"DOCKER_HOST": "unix:///tmp/nothing.sock"})
    assert proc.returncode == 1
    assert "the Docker engine does not answer at unix:///tmp/nothing.sock" in proc.stderr
    assert "dockerd" in proc.stderr and "--backend process" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = env_cli("up", "httpbin", env={"DOCKER_HOST": "unix:///tmp/nothing.sock", "WORKSHOP_BACKEND": "docker"})
    assert proc.returncode == 1 and "does not answer" in proc.stderr


def test_auto_falls_back_to_processes_without_an_engine(ports: Ports, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/nothing.sock")
    assert services.choose_backend("auto") == "process"


def test_images_are_scratch_plus_the_binary_and_its_libraries(real_tools: dict) -> None:
    if "go-httpbin" not in real_tools:
        pytest.skip("go-httpbin not installed: run `workshop prepare`")
    import tarfile

    with tarfile.open(fileobj=container_images.build_context([(real_tools["go-httpbin"], "/usr/local/bin/go-httpbin")])) as tar:
        names = tar.getnames()
        dockerfile = tar.extractfile("Dockerfile").read().decode()  # type: ignore[union-attr]
    assert dockerfile.startswith("FROM scratch\n")
    assert "rootfs/usr/local/bin/go-httpbin" in names
    libs = container_images.shared_libraries(real_tools["go-httpbin"])
    assert all(f"rootfs{lib}" in names for lib in libs)


@pytest.mark.usefixtures("docker_engine", "needs_binaries")
def test_up_status_logs_down_in_containers(ports: Ports) -> None:
    proc = env_cli("up", "--backend", "docker", "--json", timeout=600)  # the first run builds the images
    assert proc.returncode == 0, proc.stdout + proc.stderr
    up = {s["name"]: s for s in json.loads(proc.stdout)["services"]}
    assert all(s["backend"] == "docker" and s["container"] for s in up.values())

    client = containers.client()
    for name, s in up.items():
        c = client.containers.get(s["container"])
        assert c.status == "running"
        assert c.attrs["HostConfig"]["NetworkMode"] == "host"  # never a bridge network
        assert c.labels[containers.SERVICE_LABEL] == name
        assert c.labels[containers.STATE_LABEL] == records.state_key()
        # services with the same files (both registries) share one image, tagged once per service
        assert any(t.startswith(f"wasm-workshop/{name}:") for t in client.images.get(c.image.id).tags)

    assert http.request(f"http://127.0.0.1:{ports.registry}/v2/").status == 200
    echoed = json.loads(http.request(f"http://127.0.0.1:{ports.envoy}/get", headers={"x-probe": "c"}).text)
    assert echoed["headers"]["X-Probe"] == ["c"]
    status = json.loads(env_cli("status", "--json").stdout)["services"]
    assert all(s["up"] and s["backend"] == "docker" for s in status if s["name"] in up)
    assert {s["name"] for s in status if s["up"]} == set(up)
    assert "container" in env_cli("status").stdout
    assert "listening on http://127.0.0.1" in env_cli("logs", "httpbin").stdout

    down = env_cli("down")
    assert down.returncode == 0, down.stderr
    assert client.containers.list(all=True, filters={"label": f"{containers.STATE_LABEL}={records.state_key()}"}) == []
    assert all(http.port_free(p) for p in (ports.envoy, ports.envoy_admin, ports.registry, ports.httpbin))
    assert "listening on http://127.0.0.1" in env_cli("logs", "httpbin").stdout  # saved when it was removed


@pytest.mark.usefixtures("docker_engine", "needs_binaries")
def test_the_tag_names_the_image_in_use_when_binaries_take_turns(real_tools: dict, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from workshop.env.services import catalog

    client = containers.client()
    service = catalog.Httpbin()
    copies = []
    for n in (1, 2):  # the same go-httpbin at two paths: as Envoy from two virtualenvs
        copy = tmp_path / f"bin{n}" / "go-httpbin"
        copy.parent.mkdir()
        shutil.copy2(real_tools["go-httpbin"], copy)
        copies.append(copy)
    tag = f"wasm-workshop/httpbin:{service.image_version()}"

    def ensure(copy):
        monkeypatch.setattr(catalog.Httpbin, "binary", lambda self: copy)
        image = container_images.ensure_image(client, service, lambda _m: None)
        assert client.images.get(tag).id == image  # the tag names the image of the binary in use
        return image

    first = ensure(copies[0])
    user = client.containers.create(first, command=["-h"])  # an image a container uses is kept
    try:
        second = ensure(copies[1])
        assert client.images.get(first).tags == []
        assert ensure(copies[0]) == first  # found again, not rebuilt, and tagged again
        user.remove()
        ensure(copies[1])
        with pytest.raises(Exception, match="No such image"):
            client.images.get(first)  # untagged and unused: removed
    finally:
        for c in client.containers.list(all=True, filters={"id": user.id}):
            c.remove(force=True)
        for image in client.images.list(filters={"label": f"{container_images.SERVICE_LABEL}=httpbin"}):
            if image.id in (first, second):
                client.images.remove(image.id, force=True)


@pytest.mark.usefixtures("docker_engine", "needs_binaries")
def test_a_taken_port_is_refused_before_any_container_runs(ports: Ports) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports.httpbin))
        s.listen()
        proc = env_cli("up", "httpbin", "--backend", "docker")
    assert proc.returncode == 1 and f"port {ports.httpbin} on 127.0.0.1" in proc.stderr
    assert containers.client().containers.list(all=True, filters={"label": f"{containers.STATE_LABEL}={records.state_key()}"}) == []


@pytest.mark.usefixtures("docker_engine", "needs_binaries")
def test_a_container_left_by_a_crash_before_its_record_is_swept(ports: Ports) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(supervisor, "me", lambda: (dead.pid, 1))  # as if created by a process that then died
        info = services.ensure(["httpbin"], backend="docker", detached=True)["httpbin"]
    client = containers.client()
    assert client.containers.get(info.container).labels[containers.OWNER_LABEL] == f"{dead.pid}:1"
    records.forget("httpbin")  # the crash came between create and record
    assert services.reap(sweep_docker=True) == ["httpbin"]
    assert client.containers.list(all=True, filters={"label": f"{containers.STATE_LABEL}={records.state_key()}"}) == []


def test_records_of_containers_whose_engine_is_gone_are_forgotten(ports: Ports, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/nothing.sock")
    for name in ("httpbin", "registry"):
        recorded = records.ServiceInfo(name=name, backend="docker", ports={"http": 1}, container="0" * 64)
        supervisor.record_container("0" * 64, label=f"service {name}", role=records.role(name), meta=recorded.meta(),
                                    detached=True)
    assert services.down(["registry"]) == ["registry"]
    assert services.status() == []
    assert records.load_all() == {}

