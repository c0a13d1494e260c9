"""Lab 05 for real: images pushed to the real registry, judged the way Istio's agent reads them."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from workshop.core import waiting
from workshop.core.content import load_workshop
from workshop.env import http, services, supervisor, wasm_images
from workshop.runs.checks import run_checks

pytestmark = pytest.mark.slow
LAB = load_workshop(ROOT).lab("05")


@pytest.fixture
def registry() -> str:
    info = services.ensure(["registry"])["registry"]
    yield f"127.0.0.1:{info.port}"
    services.stop_owned()


def _solution(tmp_path: Path) -> Path:
    folder = tmp_path / "ws" / LAB.slug
    shutil.copytree(LAB.solution_dir, folder)
    subprocess.run(["go", "build", "-buildmode=c-shared", "-o", "plugin.wasm", "."], cwd=folder, check=True,
                   env={**__import__("os").environ, "GOOS": "wasip1", "GOARCH": "wasm"}, timeout=300)
    return folder


def _push(folder: Path, image: str, files: list[str]) -> None:
    code = ("import sys, oras.client; c = oras.client.OrasClient(hostname=sys.argv[1].split('/')[0], insecure=True);"
            "c.push(sys.argv[1], files=sys.argv[2:])")
    subprocess.run([sys.executable, "-c", code, image, *files], cwd=folder, check=True, timeout=120, capture_output=True)


def _verdicts(folder: Path) -> dict:
    verdicts = {v.name: v for v in run_checks(LAB, folder).verdicts}
    assert [r for r in supervisor.tracked() if not r["label"].startswith("service ")] == []  # the runner left nothing behind
    return verdicts


def test_selftest_lab05(workshop_cli) -> None:
    data = json.loads(workshop_cli("selftest", "05", "--json", check_code=0).stdout)
    assert data["labs"][0]["ok"]


def test_one_layer_artifact_is_rejected_as_istio_would(tmp_path: Path, registry: str) -> None:
    folder = _solution(tmp_path)
    _push(folder, f"{registry}/wasm-workshop/filter:v1", [f"plugin.wasm:{wasm_images.WASM_LAYER}"])
    v = _verdicts(folder)["the_image_is_one_istio_accepts"]
    assert v.status == "failed" and "one-layer Wasm artifact" in v.message and wasm_images.WASM_CONFIG in v.hint
    assert "number of layers must be 2 but got 1" in v.seen  # Istio's fetcher's own words


def test_wrong_media_type(tmp_path: Path, registry: str) -> None:
    folder = _solution(tmp_path)
    _push(folder, f"{registry}/wasm-workshop/filter:v1",
          ["plugin.wasm:application/octet-stream", "runtime-config.json:application/json"])
    v = _verdicts(folder)["the_image_is_one_istio_accepts"]
    assert v.status == "failed" and "cannot read this image" in v.message and "application/octet-stream" in v.message


def test_push_to_the_wrong_tag(tmp_path: Path, registry: str) -> None:
    folder = _solution(tmp_path)
    _push(folder, f"{registry}/wasm-workshop/filter:v2", [f"plugin.wasm:{wasm_images.WASM_LAYER}", f"runtime-config.json:{wasm_images.WASM_CONFIG}"])
    v = _verdicts(folder)["the_image_is_one_istio_accepts"]
    assert "has no wasm-workshop/filter:v1" in v.message and "tags: v2" in v.message


def test_an_image_without_plugin_wasm(tmp_path: Path, registry: str) -> None:
    folder = _solution(tmp_path)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(folder / "plugin.wasm", arcname="filter.wasm")
    (folder / "layer.tar.gz").write_bytes(gzip.compress(buf.getvalue()))
    _push(folder, f"{registry}/wasm-workshop/filter:v1", [f"layer.tar.gz:{wasm_images.OCI_LAYER}"])
    v = _verdicts(folder)["the_image_is_one_istio_accepts"]
    assert v.status == "failed" and "Istio's fetcher" in v.seen


def _index(registry: str, child_tag: str, tag: str, platform: dict | None) -> str:
    """An OCI image index (as buildx or `crane index` push) pointing at ``child_tag``; its digest."""
    child = http.request(f"http://{registry}/v2/wasm-workshop/filter/manifests/{child_tag}",
                         headers={"Accept": wasm_images.OCI_MANIFEST})
    desc = {"mediaType": wasm_images.OCI_MANIFEST, "digest": child.headers["docker-content-digest"], "size": len(child.body)}
    if platform:
        desc["platform"] = platform
    body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [desc]})
    put = http.request(f"http://{registry}/v2/wasm-workshop/filter/manifests/{tag}", method="PUT", body=body.encode(),
                       headers={"Content-Type": "application/vnd.oci.image.index.v1+json"})
    assert put.status == 201, put.text
    return put.headers["docker-content-digest"]


def test_an_image_index_is_read_as_istio_reads_it(tmp_path: Path, registry: str) -> None:
    """What buildx, Docker Desktop's containerd store and `crane index` push: the agent resolves it to linux/amd64."""
    folder = _solution(tmp_path)
    _push(folder, f"{registry}/wasm-workshop/filter:child", [f"plugin.wasm:{wasm_images.WASM_LAYER}", f"runtime-config.json:{wasm_images.WASM_CONFIG}"])
    _index(registry, "child", "v1", {"os": "linux", "architecture": "amd64"})
    assert all(v.passed for v in _verdicts(folder).values())
    _index(registry, "child", "v1", {"os": "linux", "architecture": "arm64"})
    v = _verdicts(folder)["the_image_is_one_istio_accepts"]
    assert v.status == "failed" and "linux/amd64" in v.message and "linux/arm64" in v.message


def test_a_stale_image(tmp_path: Path, registry: str) -> None:
    folder = _solution(tmp_path)
    _push(folder, f"{registry}/wasm-workshop/filter:v1", [f"plugin.wasm:{wasm_images.WASM_LAYER}", f"runtime-config.json:{wasm_images.WASM_CONFIG}"])
    main = folder / "main.go"
    main.write_text(main.read_text().replace("request %d answered", "request %d done"))
    verdicts = _verdicts(folder)
    assert verdicts["the_image_is_one_istio_accepts"].passed
    v = verdicts["the_image_holds_your_current_build"]
    assert v.status == "failed" and "stale" in v.message


def test_a_registry_that_is_down() -> None:
    answer = wasm_images.would_load("oci://127.0.0.1:9/wasm-workshop/filter:v1", timeout=5)
    assert not answer.ok
    message, hint = wasm_images.explain(answer)
    assert "nothing answers" in message and "workshop env up registry" in hint


def test_the_docker_form_passes(tmp_path: Path, registry: str, docker_engine: None) -> None:
    docker = shutil.which("docker") or "docker"
    folder = _solution(tmp_path)
    tag = f"{registry}/wasm-workshop/filter:v1"
    subprocess.run([docker, "build", "-t", tag, "."], cwd=folder, check=True, timeout=300, capture_output=True)
    subprocess.run([docker, "push", tag], check=True, timeout=300, capture_output=True)
    subprocess.run([docker, "rmi", tag], timeout=60, capture_output=True)
    assert "Docker image" in wasm_images.describe(tag)
    assert all(v.passed for v in _verdicts(folder).values())


def test_selftest_lab05_with_docker_services(workshop_cli, docker_engine) -> None:
    data = json.loads(workshop_cli("selftest", "05", "--backend", "docker", "--json", check_code=0).stdout)
    assert data["labs"][0]["ok"]


def _learner_registry(root: Path, port: int) -> subprocess.Popen[bytes]:
    """A registry the learner started themselves (as `docker run -p 5000:5000 registry:2` would)."""
    from workshop.env.tools import tool_path

    binary = tool_path("registry")
    if binary is None:
        pytest.skip("the registry is not installed: run `workshop prepare`")
    config = root / "learner-registry.yml"
    config.write_text(json.dumps({"version": 0.1, "storage": {"filesystem": {"rootdirectory": str(root / "blobs")}},
                                  "http": {"addr": f"127.0.0.1:{port}"}}))
    proc = subprocess.Popen([str(binary), "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={"OTEL_TRACES_EXPORTER": "none", "PATH": "/usr/bin:/bin"})
    from workshop.env import http

    waited = waiting.until(lambda: http.request(f"http://127.0.0.1:{port}/v2/", timeout=1).status == 200,
                           ended=lambda: None if proc.poll() is None else "it exited", timeout=20, every=0.02,
                           not_yet=(http.NoResponse,))
    assert waited.ready, waited.ended
    return proc


def test_a_registry_the_learner_already_runs_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workshop_cli) -> None:
    """The learner's own registry on the lab's address is theirs: the checks use it and say so; nothing stops it."""
    from tests.env.conftest import free_ports

    port = free_ports(1)[0]
    monkeypatch.setenv("WORKSHOP_PORT_REGISTRY", str(port))
    theirs = _learner_registry(tmp_path, port)
    try:
        folder = _solution(tmp_path)
        _push(folder, f"127.0.0.1:{port}/wasm-workshop/filter:v1",
              [f"plugin.wasm:{wasm_images.WASM_LAYER}", f"runtime-config.json:{wasm_images.WASM_CONFIG}"])
        verdicts = _verdicts(folder)
        assert all(v.passed for v in verdicts.values()), [v.explain() for v in verdicts.values()]
        assert all(f"127.0.0.1:{port}" in v.note and "yours" in v.note for v in verdicts.values())
        status = workshop_cli("env", "status", check_code=0).stdout
        assert "registry" in status and "yours" in status and "not started by the workshop" in status
        workshop_cli("env", "down", check_code=0)
        assert theirs.poll() is None, "`workshop env down` stopped the learner's own registry"
    finally:
        theirs.terminate()
        theirs.wait(timeout=10)


def test_something_else_on_the_registry_port_is_still_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a registry is taken for the learner's own: any other program on the port is named as in the way."""
    import http.server
    import threading

    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("WORKSHOP_PORT_REGISTRY", str(server.server_address[1]))
    try:
        with pytest.raises(services.ServiceError, match="already in use"):
            services.ensure(["registry"])
    finally:
        server.shutdown()
