"""The check vocabulary: fixtures for the learner's folder, their tools, a real Envoy and HTTP.

A check reads like ``assert envoy.get("/").headers["x-wasm-workshop"] == "hello"``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from workshop.checking import early, mutants
from workshop.checking.commands import (
    WASM_ENV,
    Commands,
    Deadline,
    Result,
    compiler_errors,
    explain_go_failure,
)
from workshop.checking.feedback import fail, note
from workshop.core import wasm as wasmlib
from workshop.core.errors import WorkshopError
from workshop.core.locations import cache_dir
from workshop.env import envoy as envoylib
from workshop.env import http as httplib
from workshop.env import services as serviceslib

TRANSCRIPT = pytest.StashKey[list[str]]()
DEADLINE = pytest.StashKey[Deadline]()


@pytest.fixture
def transcript(request: pytest.FixtureRequest) -> list[str]:
    """What the check's commands printed; kept for the details view."""
    return request.node.stash.setdefault(TRANSCRIPT, [])


@pytest.fixture
def deadline(request: pytest.FixtureRequest) -> Deadline:
    return request.node.stash.setdefault(DEADLINE, Deadline(60))


@pytest.fixture
def workspace(request: pytest.FixtureRequest) -> Path:
    """The learner's folder for this check's lab."""
    given = request.config.getoption("workspace")
    if not given:
        raise pytest.UsageError("checks need --workspace DIR: the learner's workspace, or one lab's folder")
    root = Path(given).expanduser().resolve()
    lab = Path(str(request.node.path)).parent.name
    folder = root / lab if (root / lab).is_dir() else root
    if not folder.is_dir():
        fail(f"your lab folder {folder} does not exist", hint=f"run `workshop start {lab[:2]}` to make it")
    return folder


@pytest.fixture
def run(workspace: Path, deadline: Deadline, transcript: list[str]) -> Commands:
    """Run a command in the learner's folder: ``run(["go", "vet"]).ok``."""
    return Commands(workspace, deadline, transcript)


_BUILT: dict[tuple[str, str], tuple[str, str]] = {}  # (folder, output) -> (sources' digest, output's sha256)
_TESTED: dict[tuple[str, ...], tuple[str, Result]] = {}  # (folder, "test", args) -> (sources' digest, its result)


def _sources_digest(folder: Path, out: str) -> str:
    """A digest of every file in the learner's folder that a build could read (all but its outputs).

    Symbolic links to folders are not followed; a file that cannot be read counts by its name alone.
    """
    import hashlib

    h = hashlib.sha256()
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != ".backups")
        for name in sorted(files):
            if name == out or name.endswith(".wasm"):
                continue
            path = Path(root) / name
            h.update(str(path.relative_to(folder)).encode() + b"\0")
            try:
                h.update(path.read_bytes())
            except OSError:
                h.update(b"<unreadable>")
            h.update(b"\0")
    return h.hexdigest()


class Go:
    """The learner's Go module, built and tested the way the lab teaches."""

    def __init__(self, run: Commands, scratch: Path, on_built: Callable[[Path], None] | None = None) -> None:
        self.run = run
        self.dir = run.cwd
        self.scratch = scratch
        self.on_built = on_built  # told of each module built (a later check's Envoy may start on it now)

    def build_wasm(self, out: str = "plugin.wasm", timeout: float = 120, inspect: bool = True) -> wasmlib.WasmModule:
        """``GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .``, then inspect it.

        With ``inspect=False`` (a check that only runs the module) wasmtime reads it only if asked.
        """
        if not (self.dir / "go.mod").exists():
            fail("there is no go.mod in your lab folder", seen=str(self.dir),
                 hint="restore the starter's files with `workshop reset LAB` (your files are backed up first)")
        key, sources = (str(self.dir), out), _sources_digest(self.dir, out)
        if _BUILT.get(key, ("", ""))[0] == sources and wasmlib.digest_of(self.dir / out) == _BUILT[key][1]:
            self.run.transcript.append(f"{out} was built from these same sources earlier in this run: not built again")
            return self.module(out, parse=inspect)
        result = self.run(["go", "build", "-buildmode=c-shared", "-o", out, "."], env=WASM_ENV, timeout=timeout)
        self._judge(result, "go build")
        if self.on_built is not None and out == "plugin.wasm":
            self.on_built(self.dir / out)
        module = self.module(out, parse=inspect)
        _BUILT[key] = (sources, module.sha256)
        return module

    def module(self, name: str = "plugin.wasm", parse: bool = True) -> wasmlib.WasmModule:
        path = self.dir / name
        if not path.exists():
            fail(f"{name} is missing", hint="build it: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .")
        try:
            return wasmlib.inspect(path, parse=parse)
        except wasmlib.NotAModule as exc:
            fail(str(exc), expected=f"{name} is a WebAssembly module (its first bytes are 00 61 73 6d)")

    def test(self, *args: str, timeout: float = 120) -> Result:
        """``go test`` on the host, where the SDK's proxytest emulator runs the filter.

        One run of checks tests the same sources once (a failing or hanging test is not in Go's own
        cache, and several checks ask); any edit runs them for real.
        """
        key = (str(self.dir), "test", *args)
        sources = _sources_digest(self.dir, "")
        if key in _TESTED and _TESTED[key][0] == sources:  # the same sources, tested earlier in this run
            self.run.transcript.append("go test ran on these same sources earlier in this run: its result again")
            return _TESTED[key][1]
        result = self.run(["go", "test", *args, "./..."], timeout=timeout)
        _TESTED[key] = (sources, result)
        return result

    def test_mutant(self, mutant: mutants.Mutant, timeout: float = 120) -> Result:
        """``go test`` of the learner's own code and tests with one behaviour taken out of the SDK it
        uses (see mutants.py); call it once ``go.test()`` passes. A good test fails here."""
        listed = self.run(["go", "list", "-m", "-f", "{{.Dir}}", mutants.SDK], timeout=30)
        sdk = mutants.sdk_folder(listed.output if listed.ok else "", self.dir)
        if sdk is None:
            fail("your module does not use the Proxy-Wasm Go SDK", expected=f"a require line for {mutants.SDK} in go.mod",
                 seen=listed.output.strip()[-300:], hint=f"run `go get {mutants.SDK}` in your lab folder")
        copy = mutants.mutated_sdk(mutant, sdk, cache_dir() / "mutants")
        modfile = self.scratch / "mutant" / "go.mod"
        modfile.parent.mkdir(parents=True, exist_ok=True)
        modfile.write_text((self.dir / "go.mod").read_text())
        if (self.dir / "go.sum").exists():
            modfile.with_name("go.sum").write_text((self.dir / "go.sum").read_text())
        edit = self.run(["go", "mod", "edit", f"-replace={mutants.SDK}={copy}", str(modfile)], timeout=30)
        result = self.run(["go", "test", "-mod=mod", f"-modfile={modfile}", "./..."], timeout=timeout)
        if edit.ok and (result.ok or result.timed_out or "--- FAIL" in result.output or "\npanic:" in result.output):
            return result
        raise mutants.MutantError(f"go test against the SDK rewritten so that the filter {mutant.does} "
                                  f"did not run:\n{(edit.output + result.output).strip()[-800:]}")

    def _judge(self, result: Result, what: str) -> None:
        if result.timed_out:
            fail(f"{what} did not finish in time", hint="is the Go module cache reachable? `workshop prepare` fills it")
        if not result.ok:
            summary, hint = explain_go_failure(result.output, what)
            plain = "\n".join(ln for ln in result.output.strip().splitlines() if not ln.startswith("# "))
            seen = "\n".join(compiler_errors(result.output)) or plain[-600:]
            fail(summary, seen=seen, hint=hint)


@pytest.fixture
def go(run: Commands, tmp_path: Path, request: pytest.FixtureRequest) -> Go:
    ahead = None
    if early.wanted_later(request.node):  # a later check of this run runs the module in Envoy: start it now
        def ahead(wasm: Path) -> None:
            early.start(wasm, tmp_path / "envoy-early")
    return Go(run, tmp_path / "go", on_built=ahead)


class Envoys:
    """Starts real Envoys for a check and stops them afterwards."""

    def __init__(self, tmp: Path, deadline: Deadline, transcript: list[str]) -> None:
        self.tmp = tmp
        self.deadline = deadline
        self.transcript = transcript
        self.started: list[envoylib.Envoy] = []

    def run_filter(
        self, wasm: Path, *, plugin_config: str | None = None, upstream: tuple[str, int] | None = None,
        name: str = "workshop",
    ) -> envoylib.Envoy:
        """Envoy with one listener whose HTTP filter is ``wasm`` on V8; free ports, 127.0.0.1 only."""
        try:
            wasmlib.check_magic(wasm)  # cheap; Envoy itself says what else is wrong with a module
        except wasmlib.NotAModule as exc:
            fail(f"Envoy cannot load it: {exc}", expected="a WebAssembly module built with GOOS=wasip1 GOARCH=wasm")
        except FileNotFoundError:
            fail(f"{wasm.name} is missing", hint="build it first")
        config = envoylib.bootstrap([envoylib.wasm_filter(name, wasm, plugin_config)], upstream=upstream)
        return self.run_config(config, what="your filter")

    def run_config(self, config: dict, what: str = "this configuration") -> envoylib.Envoy:
        proxy, log = self.try_config(config)
        if proxy is None:
            fail(f"Envoy would not start with {what}", seen=envoylib.errors_in(log),
                 hint="read Envoy's error above: a panic in OnPluginStart or OnVMStart, or a bad configuration?")
        return proxy

    def try_config(self, config: dict, cwd: Path | None = None) -> tuple[envoylib.Envoy | None, str]:
        """Start Envoy: (it, "") when it runs; (None, its whole log) when it would not start.

        ``cwd`` is where relative paths in ``config`` are read from (a learner's lab folder)."""
        workdir = self.tmp / f"envoy-{len(self.started)}-{len(self.transcript)}"
        taken = early.take(config, self.deadline.left(60)) if cwd is None else early.Taken()
        if taken.proxy is not None:
            self.transcript.append("Envoy was started on this same module as soon as it was built")
            self.started.append(taken.proxy)
            return taken.proxy, ""
        if taken.error:  # started on this same module as soon as it was built, and it would not start
            self.transcript.append(f"Envoy did not start:\n{taken.error}")
            return None, taken.log
        try:
            proxy = envoylib.start(config, workdir=workdir, timeout=self.deadline.left(60), cwd=cwd)
        except envoylib.EnvoyError as exc:
            self.transcript.append(f"Envoy did not start:\n{exc}")
            log = workdir / "envoy.log"
            return None, (log.read_text(errors="replace") if log.exists() else "") or str(exc)
        self.started.append(proxy)
        return proxy, ""

    def attach(self, admin_port: int, listen_port: int) -> envoylib.Envoy:
        """The learner's own running Envoy, known by its ports."""
        return envoylib.Envoy.attach(admin_port, listen_port)

    def close(self) -> None:
        for proxy in self.started:
            proxy.stop()
            self.transcript.append(f"Envoy log (last lines):\n{envoylib.last_lines(proxy.log(), 15)}")


@pytest.fixture
def envoy(tmp_path: Path, deadline: Deadline, transcript: list[str]) -> Iterator[Envoys]:
    envoys = Envoys(tmp_path, deadline, transcript)
    try:
        yield envoys
    finally:
        envoys.close()


class Services:
    """The workshop's own services (any of the catalog's), started when a check needs them.

    For a learner they stay up afterwards (their own Envoy talks to them); selftest, grading and tests
    set WORKSHOP_SERVICES=owned so that what a check starts goes away with it.
    """

    def ensure(self, *names: str) -> dict:
        detached = os.environ.get("WORKSHOP_SERVICES", "") != "owned"
        try:
            up = serviceslib.ensure(list(names), detached=detached)
        except WorkshopError as exc:
            fail(f"the workshop could not start {', '.join(names)}: {exc}", hint="see `workshop env status`")
        for info in up.values():
            if info.backend == serviceslib.YOURS:
                note(f"used the {info.name} already running on {info.url} (yours: not started by the workshop)")
        return up


@pytest.fixture
def services() -> Services:
    return Services()


class Http:
    """HTTP requests with the check's deadline; a request that gets no answer fails the check plainly."""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline

    def get(self, url: str, headers: dict[str, str] | None = None, timeout: float = 5.0) -> httplib.Response:
        try:
            return httplib.request(url, headers=headers, timeout=self.deadline.left(timeout))
        except httplib.NoResponse as exc:
            fail(f"the request to {url} got no answer: {exc}",
                 hint="if Envoy is stuck, does your filter loop forever or never resume the request?")


@pytest.fixture
def http(deadline: Deadline) -> Http:
    return Http(deadline)
