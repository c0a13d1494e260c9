"""The grading sandbox: a submission's work runs in a Docker container cut off from the host.

The image is built here, ``FROM scratch`` (nothing is pulled): a passwd file, empty mount points and a
copy of the Python launcher that the sandbox user may execute but not read. A process started from
an unreadable file is not dumpable, so the learner's code (same user) can neither open the check
processes' file descriptors in /proc nor trace them: it cannot write into their result stream.

At run time the host's toolchains are bind-mounted read-only at their own paths (/usr, the Python
prefix, the Go root and module cache, Envoy, the workshop's package, the labs and checks, never the
solutions), and func-e, the registry and go-httpbin one file each under /opt/tools/bin (the host's
data folder, with its registry's images, is not shown); /tmp is a size-limited tmpfs holding the
data, cache and state folders, the rest of the file system is read-only. The container has no
network but its own loopback (``--network none``), so the lab's services, the learner's Envoy and
the local mesh run inside it on their fixed ports; it runs as an unprivileged user with no
capabilities and CPU, memory and process limits. The Go build cache seeded from the solutions is
mounted read-only and linked into a writable cache (``grade_job.link_gocache``), not copied.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import site
import sys
import tarfile
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from workshop.core.chain import write_files
from workshop.core.errors import WorkshopError
from workshop.core.locations import tools_dir
from workshop.env import binaries, docker_engine, supervisor
from workshop.env.envoy import EnvoyError, find_envoy
from workshop.env.mesh.sidecar import OWN_AGENT_DATA
from workshop.env.tools import GO_TOOLS, func_e_home, tool_path

IMAGE = "wasm-workshop/grade-sandbox"
LABEL = "wasm-workshop.grade"
LAYOUT = "4"  # bump when the image's contents change
SEED_LAYOUT = "stand-in-1"  # bump when what seeds the Go build cache changes
PYTHON = "/opt/sandbox/bin/python3"
CONTENT = "/opt/workshop/content"
SOURCE = "/opt/workshop/src"
SUBMISSION = "/opt/submission"
GOCACHE_SEED = "/opt/gocache-seed"
TOOLS_DIR = "/opt/tools"  # the container's WORKSHOP_TOOLS_DIR
TOOLS = f"{TOOLS_DIR}/bin"  # func-e, registry, go-httpbin, the mesh's programs: each host binary mounted read-only
USER = "1000:1000"
PASSWD = "root:x:0:0:root:/root:/bin/sh\nlearner:x:1000:1000:learner:/tmp/home:/bin/sh\n"
GROUP = "root:x:0:\nlearner:x:1000:\n"


class SandboxError(WorkshopError):
    """The sandbox cannot be used; the message says how to fix it or to choose --sandbox none."""


@dataclass
class Limits:
    """What one submission's container may use."""

    cpus: float = 1.0
    memory_mb: int = 2048
    pids: int = 512
    tmp_mb: int = 1024  # the tmpfs holding the submission's copy, the Go cache and scratch files


@dataclass
class Mount:
    source: str
    target: str
    writable: bool = False


@dataclass
class SandboxPlan:
    """Everything `docker run` needs for one submission."""

    image: str
    mounts: list[Mount] = field(default_factory=list)
    masks: list[str] = field(default_factory=list)  # read-only empty tmpfs over these (the solutions)
    env: dict[str, str] = field(default_factory=dict)


def docker_cli() -> str | None:
    return shutil.which("docker")


def engine_answers() -> bool:
    """True when a Docker engine answers here and the docker command that runs the sandbox is installed
    (the default sandbox then is docker)."""
    return docker_cli() is not None and docker_engine.available()


def _python_binary() -> Path:
    return Path(os.path.realpath(sys.executable))


def _identity() -> str:
    py = _python_binary()
    st = py.stat()
    return hashlib.sha256(f"{LAYOUT}:{py}:{st.st_size}:{st.st_mtime_ns}:{os.path.islink('/lib')}".encode()).hexdigest()[:16]


def _context() -> io.BytesIO:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        def add(name: str, data: bytes = b"", mode: int = 0o644, kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.mode, info.type, info.linkname, info.size = mode, kind, link, len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)

        add("Dockerfile", b"FROM scratch\nCOPY rootfs/ /\nUSER 1000:1000\n")
        add("rootfs/etc/passwd", PASSWD.encode())
        add("rootfs/etc/group", GROUP.encode())
        for d in ("tmp", "opt/sandbox/bin", "opt/workshop/content", "opt/workshop/src", "opt/submission",
                  "opt/gocache-seed", "usr", "proc", "dev", "sys", "sbin"):
            add(f"rootfs/{d}", mode=0o1777 if d == "tmp" else 0o755, kind=tarfile.DIRTYPE)
        for top in ("bin", "lib", "lib64", "lib32", "libx32"):  # /sbin stays a folder: docker puts its init there
            if os.path.islink(f"/{top}"):
                add(f"rootfs/{top}", kind=tarfile.SYMTYPE, link=os.readlink(f"/{top}"), mode=0o777)
        # Executable but unreadable by the sandbox user: every Python process in it is then not dumpable.
        add(f"rootfs{PYTHON}", _python_binary().read_bytes(), mode=0o711)
    out.seek(0)
    return out


def ensure_image() -> str:
    """The sandbox image's tag, built now if this machine has none for the current Python."""
    cli = docker_cli()
    if not cli:
        raise SandboxError("the docker command is not installed: install Docker, or grade with --sandbox none")
    tag = f"{IMAGE}:{_identity()}"
    if supervisor.run([cli, "image", "inspect", tag], timeout=30, label="docker").ok:
        return tag
    built = supervisor.run([cli, "build", "--quiet", "--label", f"{LABEL}=image", "-t", tag, "-"],
                           input=_context().read(), timeout=600, label="docker build")
    if not built.ok:
        reason = built.output.strip().splitlines()[-1:] or ["no answer within 600 s" if built.timed_out else "no output"]
        raise SandboxError(f"building the sandbox image failed ({reason[0]}): check `docker info` and the disk space")
    return tag


def _go_env() -> dict[str, str]:
    done = supervisor.run(["go", "env", "GOROOT", "GOMODCACHE"], env=os.environ, timeout=30, label="grade")
    lines = done.output.strip().splitlines()
    if not done.ok or len(lines) < 2:
        raise SandboxError("`go env` failed on this machine: install Go >= 1.24, or see `workshop doctor`")
    return {"GOROOT": lines[0], "GOMODCACHE": lines[1]}


def lab_tools() -> dict[str, Path]:
    """The host's programs the labs run, as `workshop prepare` installed them: func-e, the registry,
    go-httpbin, oras, and the mesh's (etcd, the API server, kubectl, istiod, the agent, wasmcheck)."""
    found = {}
    for tool in GO_TOOLS:
        path = tool_path(tool.name)
        if path is not None:
            found[tool.name] = path.resolve()
    for program in binaries.PROGRAMS:
        if program.path.is_file():
            found[program.name] = program.path.resolve()
    return found


def tools_folders() -> list[Mount]:
    """What else of the host's tools folder the labs read: func-e's Envoy versions, Istio's CRDs and
    bootstrap template, the mesh's build recipes (that its programs are the ones this workshop builds)."""
    folders = [func_e_home(), binaries.istio_files(), tools_dir() / "recipes"]
    return [Mount(str(f.resolve()), f"{TOOLS_DIR}/{f.relative_to(tools_dir())}") for f in folders if f.is_dir()]


def _covered(path: str, mounts: list[Mount]) -> bool:
    return any(path == m.target or path.startswith(m.target.rstrip("/") + "/") for m in mounts)


def _solutions_inside(root: Path) -> list[str]:
    """Solution folders that a read-only mount of ``root`` would show; they get masked."""
    found = []
    for candidate in (root / "solutions", *root.glob("lib/python*/site-packages/workshop/_content/solutions"),
                      root / "_content" / "solutions"):
        if candidate.is_dir():
            found.append(str(candidate))
    return found


def plan(content_root: Path, gocache_seed: Path | None) -> SandboxPlan:
    """The mounts and environment shared by every submission's container (``run_argv`` adds the submission)."""
    go = _go_env()
    prefix = Path(sys.prefix).resolve()
    base = Path(sys.base_prefix).resolve()  # a virtualenv's standard library lives in its base
    site_paths = [] if base == prefix else [p for p in site.getsitepackages() if p.startswith(str(prefix))]
    mounts = [Mount("/usr", "/usr")]
    for top in ("/bin", "/lib", "/lib64"):
        if os.path.isdir(top) and not os.path.islink(top):
            mounts.append(Mount(top, top))
    if os.path.exists("/etc/ld.so.cache"):
        mounts.append(Mount("/etc/ld.so.cache", "/etc/ld.so.cache"))
    for path in (str(prefix), str(base), go["GOROOT"], go["GOMODCACHE"]):
        if os.path.isdir(path) and not _covered(path, mounts):
            mounts.append(Mount(path, path))
    env_extra: dict[str, str] = {}
    try:
        envoy = str(find_envoy()[0].resolve())
        if not _covered(envoy, mounts):
            mounts.append(Mount(envoy, envoy))
        env_extra["ENVOY_PATH"] = envoy
    except EnvoyError:
        pass
    for name, found in lab_tools().items():  # one file each: the host's data folder (its registry's images) stays out
        mounts.append(Mount(str(found), f"{TOOLS}/{name}"))
    mounts += tools_folders()
    package = Path(__file__).resolve().parents[1]  # the workshop package
    mounts.append(Mount(str(package), f"{SOURCE}/workshop"))
    for part in ("labs", "checks"):  # one mount per lab: a lab may be a link to another folder
        for lab in sorted((content_root / part).iterdir()):
            if lab.is_dir():
                mounts.append(Mount(str(lab.resolve()), f"{CONTENT}/{part}/{lab.name}"))
    if gocache_seed is not None:
        mounts.append(Mount(str(gocache_seed), GOCACHE_SEED))
    masks = _solutions_inside(prefix) + _solutions_inside(package)
    gobin = str(Path(go["GOROOT"]) / "bin")
    path = os.pathsep.join([gobin, str(prefix / "bin"), TOOLS, "/usr/local/bin", "/usr/bin", "/bin"])
    env = {
        "PATH": path, "HOME": "/tmp/home", "USER": "learner", "LOGNAME": "learner", "TMPDIR": "/tmp",
        "PYTHONHOME": str(base), "PYTHONPATH": os.pathsep.join([SOURCE, *site_paths]), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "NO_COLOR": "1",
        "GOROOT": go["GOROOT"], "GOMODCACHE": go["GOMODCACHE"], "GOCACHE": "/tmp/gocache", "GOPATH": "/tmp/go",
        "GOFLAGS": "-mod=mod -buildvcs=false", "GOPROXY": "off", "GOSUMDB": "off", "GOTOOLCHAIN": "local",
        "GOTELEMETRY": "off", "WORKSHOP_CONTENT": CONTENT, "WORKSHOP_STATE_DIR": "/tmp/state",
        "WORKSHOP_CACHE_DIR": "/tmp/cache", "WORKSHOP_DATA_DIR": "/tmp/data", "WORKSHOP_SERVICES": "owned",
        "WORKSHOP_BACKEND": "process", "WORKSHOP_TOOLS_DIR": TOOLS_DIR, OWN_AGENT_DATA: "1",
        "WORKSHOP_GOCACHE_SEED": GOCACHE_SEED if gocache_seed else "",
        **env_extra,
    }
    return SandboxPlan(image=ensure_image(), mounts=mounts, masks=masks, env=env)


def run_argv(sandbox: SandboxPlan, limits: Limits, owner: str, submission_copy: Path) -> tuple[list[str], str]:
    """`docker run` for the grading job of one submission (its copy mounted read-only), and the container's name."""
    cli = docker_cli() or "docker"
    name = f"wasm-workshop-grade-{uuid.uuid4().hex[:12]}"
    argv = [
        cli, "run", "--rm", "-i", "--name", name, "--label", f"{LABEL}={owner}", "--init",
        "--network", "none", "--read-only", "--user", USER, "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges", "--ipc", "private",
        "--cpus", f"{limits.cpus:g}", "--memory", f"{limits.memory_mb}m", "--memory-swap", f"{limits.memory_mb}m",
        "--pids-limit", str(limits.pids), "--ulimit", "nofile=4096:4096", "--ulimit", f"fsize={limits.tmp_mb << 20}",
        "--tmpfs", f"/tmp:rw,exec,nosuid,nodev,size={limits.tmp_mb}m,mode=1777", "--workdir", "/",
        # the istio-agent's Wasm cache, in a folder no option moves (the sidecar's AGENT_DATA)
        "--tmpfs", f"/var/lib/istio:rw,nosuid,nodev,size={limits.tmp_mb}m,uid=1000,gid=1000,mode=0755",
    ]
    for m in [*sandbox.mounts, Mount(str(submission_copy), SUBMISSION)]:
        argv += ["--mount", f"type=bind,source={m.source},target={m.target}" + ("" if m.writable else ",readonly")]
    for mask in sandbox.masks:
        argv += ["--mount", f"type=tmpfs,target={mask},tmpfs-size=4k,tmpfs-mode=0555"]
    for key, value in sandbox.env.items():
        argv += ["--env", f"{key}={value}"]
    # -P: the working folder (/, read-only) is not put on sys.path; nothing is imported from the submission.
    argv += [sandbox.image, PYTHON, "-P", "-m", "workshop.grading.job_process"]
    return argv, name


def remove(name: str) -> None:
    """Remove a container (it may be gone already)."""
    cli = docker_cli()
    if cli:
        supervisor.run([cli, "rm", "-f", name], timeout=30, label="docker")


def seed_gocache(solutions: Mapping[str, Mapping[str, Path]], dest_root: Path) -> Path | None:
    """A Go build cache warmed with what the workshop's solutions import (trusted), linked into each container.

    The solutions' own code is not in it (a stand-in that imports the same packages is built instead):
    a submission reads the seed, and must not find the solutions there, even compiled. Built once per
    Go version and content; the containers never write to it.
    """
    if not solutions:
        return None
    key = hashlib.sha256(f"{SEED_LAYOUT}|".encode() + "|".join(sorted(solutions)).encode() + _go_env()["GOROOT"].encode())
    for slug in sorted(solutions):
        for rel, f in sorted(solutions[slug].items()):
            if rel.endswith(".go") or rel in ("go.mod", "go.sum"):
                key.update(rel.encode() + b"\0" + f.read_bytes())
    seed = dest_root / f"gocache-{key.hexdigest()[:12]}"
    if (seed / "README").exists():
        return seed
    warm_gocache(solutions, seed)
    for path in [seed, *seed.rglob("*")]:  # readable by the sandbox user, who cannot write to it
        path.chmod(0o755 if path.is_dir() else 0o644)
    (seed / "README").write_text("Go build cache seeded with the packages the workshop's solutions import.\n")
    return seed


def warm_gocache(solutions: Mapping[str, Mapping[str, Path]], gocache: Path, label: str = "grade") -> None:
    """Build into ``gocache`` what these labs' solutions import (their Wasm build and their tests), offline
    (GOPROXY=off: the modules are in the module cache already), with stand-ins that import the same
    packages: a grading seed, or a learner's own cache warmed after joining a room."""
    env = {**os.environ, "GOCACHE": str(gocache), "GOFLAGS": "-mod=mod -buildvcs=false", "GOPROXY": "off",
           "GOTOOLCHAIN": "local", "GOSUMDB": "off"}
    wasm = {**env, "GOOS": "wasip1", "GOARCH": "wasm"}
    with tempfile.TemporaryDirectory(prefix="workshop-seed-") as tmp:
        for n, files in enumerate(solutions.values()):
            work = Path(tmp) / str(n)
            _stand_in(write_files(files, Path(tmp) / f"{n}-solution"), work, wasm)
            supervisor.run(["go", "build", "-buildmode=c-shared", "-o", "plugin.wasm", "."], cwd=work, env=wasm,
                           timeout=600, label=label)
            supervisor.run(["go", "test", "-count=1", "-run", "^$", "./..."], cwd=work, env=env, timeout=600, label=label)


def _stand_in(lab: Path, work: Path, env: dict[str, str]) -> None:
    """A module with the lab's go.mod whose main package and test import what the solution's do, and no more."""
    work.mkdir(parents=True)
    for name in ("go.mod", "go.sum"):
        if (lab / name).exists():
            shutil.copy2(lab / name, work / name)
    listed = supervisor.run(["go", "list", "-f", "{{join .Imports \" \"}}|{{join .TestImports \" \"}}", "."], cwd=lab,
                            env=env, timeout=120, label="grade")
    out = listed.output.strip()
    imports, _, tests = out.splitlines()[-1].partition("|") if listed.ok and out else ("", "", "")

    def blank(names: str) -> str:
        return "".join(f'\t_ "{n}"\n' for n in names.split() if n != "testing")

    (work / "main.go").write_text(f"package main\n\nimport (\n{blank(imports)})\n\nfunc main() {{}}\n")
    (work / "main_test.go").write_text(f'package main\n\nimport (\n\t"testing"\n{blank(tests)})\n\n'
                                       "func TestSeed(t *testing.T) {}\n")
