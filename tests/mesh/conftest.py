"""The real mesh (etcd, the Kubernetes API server, istiod, the sidecar's istio-agent and Envoy) under test.

One mesh serves the whole package: starting it takes about 10 s, so the tests that only look at it
or apply their own resources share one start (``mesh``, package-scoped), made with `workshop env up`
exactly as a learner does, on ports the kernel has just handed out (every mesh port, so two suites
never collide) and with state and data folders of its own. tests/conftest.py gives every test its
own folders; ``on_mesh`` points a test back at the shared mesh's. A test that needs a mesh of its own
(a kill -9) or none at all (a port in use) keeps its own folders and ports. At the end of the session no process
started under the session's folders may be left: the sidecar's Envoy, a grandchild, included.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path

import psutil
import pytest

from tests.conftest import PREPARED, ROOT
from tests.env.conftest import free_ports
from workshop.core import chain
from workshop.core.content import LAB_DIR, load_lab, load_workshop
from workshop.core.locations import bundled_content
from workshop.env.services import Ports

MESH = ("etcd", "kube-apiserver", "istiod", "sidecar")
LAB = "07-wasmplugin"


def mesh_ports() -> dict[str, str]:
    """Every WORKSHOP_PORT_* (the mesh's, the registries', httpbin's) set to a free port."""
    names = [f.name for f in fields(Ports)]
    return {f"WORKSHOP_PORT_{name.upper()}": str(port) for name, port in zip(names, free_ports(len(names)), strict=True)}


def folders(base: Path) -> dict[str, str]:
    """The workshop's folders under ``base``; kubectl's cache too (it would fill ~/.kube/cache with one folder per port)."""
    return {**{f"WORKSHOP_{n}_DIR": str(base / n.lower()) for n in ("STATE", "DATA", "CACHE")},
            "WORKSHOP_TOOLS_DIR": str(PREPARED), "NO_COLOR": "1", "KUBECACHEDIR": str(base / "kube-cache")}


def workshop(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real `workshop ARGS` in a child process (``env``: the environment, default ours)."""
    return subprocess.run([sys.executable, "-m", "workshop", *args], capture_output=True, text=True, timeout=timeout,
                          env=env if env is not None else dict(os.environ), check=False)


def wait_until(seen: Callable[[], object], timeout: float = 30.0, every: float = 0.1) -> object:
    """``seen()`` until it gives something true; the last thing it gave either way."""
    end = time.monotonic() + timeout
    while True:
        got = seen()
        if got or time.monotonic() > end:
            return got
        time.sleep(every)


def tree(pid: int) -> list[psutil.Process]:
    """A process and all it started (the sidecar: pilot-agent, and Envoy under it)."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def envoy_of(sidecar_pid: int) -> psutil.Process:
    found = [p for p in tree(sidecar_pid) if p.name() == "envoy"]
    assert len(found) == 1, f"the sidecar (pid {sidecar_pid}) should run exactly one Envoy: {found}"
    return found[0]


def still_running(processes: list[psutil.Process]) -> list[str]:
    """Those of ``processes`` (known by pid and start time) that run and are not zombies."""
    left = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                left.append(f"pid {p.pid} {p.name()}")
        except psutil.NoSuchProcess:
            continue
    return left


def mesh_built() -> None:
    from workshop.env import binaries

    missing = [p.name for p in binaries.missing(include_optional=False)]
    if missing or not binaries.crds().is_file():
        pytest.skip(f"the mesh's programs are not built ({', '.join(missing) or 'Istio CRDs'}): run `workshop prepare`")


@dataclass
class MeshUp:
    """A mesh started with `workshop env up`: the environment that reaches it and what runs."""

    env: dict[str, str]
    base: Path
    services: dict[str, dict] = field(default_factory=dict)  # `workshop env up --json`'s services, by name

    @property
    def kubeconfig(self) -> Path:
        return Path(self.env["WORKSHOP_DATA_DIR"]) / "mesh" / "kubeconfig"

    def port(self, name: str) -> int:
        return int(self.env[f"WORKSHOP_PORT_{name.upper()}"])

    @property
    def registry(self) -> str:
        return f"127.0.0.1:{self.port('registry')}"

    @property
    def private_registry(self) -> str:
        return f"127.0.0.1:{self.port('private_registry')}"

    @property
    def inbound(self) -> str:
        return f"http://127.0.0.1:{self.port('sidecar')}"

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """kubectl as a learner runs it after `eval "$(workshop shellenv)"` (KUBECONFIG: the local mesh)."""
        return subprocess.run([str(PREPARED / "bin" / "kubectl"), *args], input=stdin, capture_output=True, text=True,
                              timeout=60, check=False, env={**os.environ, **self.env, "KUBECONFIG": str(self.kubeconfig)})

    def status(self) -> dict:
        """`workshop mesh status --json`."""
        proc = workshop("mesh", "status", "--json", env={**os.environ, **self.env})
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads(proc.stdout)


def start_mesh(base: Path, extra: tuple[str, ...] = ()) -> MeshUp:
    """`workshop env up mesh EXTRA` (detached) in folders under ``base``, every port a free one."""
    own = {**folders(base), **mesh_ports()}
    env = {**os.environ, **own}
    env.pop("WORKSHOP_SERVICES", None)
    proc = workshop("env", "up", "mesh", *extra, "--json", "--timeout", "90", env=env, timeout=240)
    if proc.returncode != 0:
        workshop("env", "down", env=env)
        processes_under(str(base), kill=True)
        pytest.fail(f"`workshop env up mesh` failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    up = json.loads(proc.stdout)
    return MeshUp(env=own, base=base, services={s["name"]: s for s in up["services"]})


def stop_mesh(mesh: MeshUp) -> None:
    """`workshop env down`, then proof that nothing of it runs (what is left is killed and reported)."""
    down = workshop("env", "down", env={**os.environ, **mesh.env})
    left = processes_under(str(mesh.base), kill=True)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not left, "`workshop env down` left these running:\n" + "\n".join(left)


@pytest.fixture(scope="package")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshUp]:
    """One real mesh for the package, with both registries, up until the last test of tests/mesh is done."""
    mesh_built()
    up = start_mesh(tmp_path_factory.mktemp("mesh"), ("registry", "private-registry"))
    try:
        yield up
    finally:
        stop_mesh(up)


@pytest.fixture
def on_mesh(mesh: MeshUp, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> MeshUp:
    """This test talks to the shared mesh: its folders and ports, in this process and in what it runs."""
    for key, value in mesh.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("WORKSHOP_SERVICES", raising=False)  # nothing here may stop the shared mesh with the test
    monkeypatch.setenv("KUBECONFIG", str(mesh.kubeconfig))
    return mesh


@dataclass
class Plugin:
    """The lab's filter, built once and pushed to the shared mesh's registries as a two-layer artifact."""

    folder: Path

    def push(self, image: str, login: tuple[str, str] | None = None) -> str:
        """`sh push.sh` (the oras CLI), as the lab has the learner do it; the manifest digest."""
        from workshop.env.learner import learner_env

        env = {**learner_env(), "IMAGE": image}
        if login:
            env.update(REGISTRY_USER=login[0], REGISTRY_PASSWORD=login[1])
        proc = subprocess.run(["sh", "push.sh"], cwd=self.folder, env=env, capture_output=True, text=True, timeout=120,
                              check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return next(ln.split()[-1] for ln in proc.stdout.splitlines() if ln.startswith("Digest:"))


@pytest.fixture(scope="package")
def plugin(mesh: MeshUp, tmp_path_factory: pytest.TempPathFactory) -> Plugin:
    """solutions/07-wasmplugin's filter: `GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared`."""
    folder = tmp_path_factory.mktemp("filter") / LAB
    chain.write_files(chain.solution_files(load_workshop(ROOT).lab(LAB)), folder)
    proc = subprocess.run(["go", "build", "-buildmode=c-shared", "-o", "plugin.wasm", "."], cwd=folder, text=True,
                          capture_output=True, timeout=600, check=False, env={**os.environ, "GOOS": "wasip1", "GOARCH": "wasm"})
    assert proc.returncode == 0, proc.stderr
    assert (folder / "plugin.wasm").read_bytes()[:4] == b"\0asm"
    return Plugin(folder)


@dataclass(frozen=True)
class Image:
    url: str  # oci://127.0.0.1:PORT/wasm-workshop/filter:TAG
    digest: str  # the manifest's, sha256:...: the agent names its cached module after it


def _pushed(mesh: MeshUp, plugin: Plugin, ref: str, login: tuple[str, str] | None = None) -> Image:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in mesh.env.items():
            mp.setenv(key, value)
        return Image(f"oci://{ref}", plugin.push(ref, login))


@pytest.fixture(scope="package")
def image(mesh: MeshUp, plugin: Plugin) -> Image:
    """The filter in the shared mesh's registry (no login)."""
    return _pushed(mesh, plugin, f"{mesh.registry}/wasm-workshop/filter:v1")


def labs_login(service: str) -> tuple[str, str]:
    """The login the labs give the learner for ``service`` (front matter ``logins:``), read without the content
    cache (which would be the user's, at import)."""
    root = bundled_content()
    given = {load_lab(root, d.name).logins.get(service) for d in (root / "labs").iterdir() if LAB_DIR.match(d.name)}
    given.discard(None)
    assert len(given) == 1, f"the labs give {len(given)} logins for {service}"
    return given.pop()  # type: ignore[return-value]


LOGIN = labs_login("private-registry")


@pytest.fixture(scope="package")
def private_image(mesh: MeshUp, plugin: Plugin) -> Image:
    """The filter in the registry that wants a login (the `private-registry` service)."""
    return _pushed(mesh, plugin, f"{mesh.private_registry}/wasm-workshop/filter:v2", LOGIN)


def wasmplugin(name: str, url: str, *, headers: dict[str, str] | None = None, extra: str = "") -> str:
    """A WasmPlugin for the workload (app: httpbin), as a learner writes one."""
    config = ", ".join(f'"{k}": "{v}"' for k, v in (headers or {}).items())
    return (f"apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {{name: {name}, namespace: default}}\n"
            f"spec:\n  selector: {{matchLabels: {{app: httpbin}}}}\n  url: {url}\n"
            + (f"  pluginConfig: {{headers: {{{config}}}}}\n" if headers else "") + extra)


ECDS = "extensions.istio.io/trafficextension/default.{}~istio-translated-wasmplugin"  # what istiod names a WasmPlugin's filter


class Applied:
    """Resources a test applies with kubectl, as files in its folder; deleted after it, and waited out of the sidecar."""

    def __init__(self, mesh: MeshUp, folder: Path) -> None:
        self.mesh, self.folder, self.files, self.names = mesh, folder, [], []

    def write(self, name: str, manifest: str) -> Path:
        path = self.folder / f"{name}.yaml"
        path.write_text(manifest)
        return path

    def apply(self, name: str, manifest: str) -> subprocess.CompletedProcess[str]:
        """`kubectl apply -f NAME.yaml`; the WasmPlugin called ``name`` is taken out after the test."""
        path = self.write(name, manifest)
        if path not in self.files:
            self.files.append(path)
            self.names.append(name)
        return self.mesh.kubectl("apply", "-f", str(path))

    def cleanup(self) -> None:
        for path in reversed(self.files):
            self.mesh.kubectl("delete", "--ignore-not-found", "-f", str(path))
        wanted = {ECDS.format(n) for n in self.names}
        gone = wait_until(lambda: not wanted & {f["name"] for f in self.mesh.status()["filters"]}, timeout=30)
        assert gone, f"the sidecar still holds {wanted} after the delete"


@pytest.fixture
def applied(on_mesh: MeshUp, tmp_path: Path) -> Iterator[Applied]:
    found = Applied(on_mesh, tmp_path)
    yield found
    found.cleanup()


# ---------------------------------------------------------------- nothing outlives the suite


def processes_under(base: str, *, kill: bool = False) -> list[str]:
    """Processes (not zombies) started with a WORKSHOP_STATE_DIR under ``base``, pytest itself aside."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            zombie = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
        except (OSError, IndexError):
            continue
        if f"WORKSHOP_STATE_DIR={base}/".encode() in environ and "pytest" not in cmdline and not zombie:
            found.append(f"pid {entry.name}: {cmdline[:140]}")
            if kill:
                try:
                    os.kill(int(entry.name), signal.SIGKILL)  # report it, and do not leak it
                except OSError:
                    pass
    return found


@pytest.fixture(scope="session", autouse=True)
def no_mesh_process_outlives_the_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    base = str(tmp_path_factory.getbasetemp())
    yield
    time.sleep(0.05)
    left = processes_under(base, kill=True)
    assert not left, "these outlived the test suite:\n" + "\n".join(left)
