"""A room as it is: the instructor and each learner with their own HOME, data, cache and state folders,
all inside one network namespace that has only loopback (``unshare -n``), so nothing outside the room
can be reached and the tests prove it. The instructor's machine is this one, prepared: its tools folder
and its Go module cache (reused, not rebuilt: a cold prepare takes twelve minutes)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PREPARED, ROOT

WORKSHOP = [sys.executable, "-m", "workshop"]


def _prepared_for_this_workshop() -> str:
    """Why the machine's prepared programs cannot be a room's ("" when they can)."""
    env = {**os.environ, "WORKSHOP_TOOLS_DIR": str(PREPARED)}
    code = ("from workshop.env import binaries; import sys; "
            "sys.exit(','.join(p.name for p in binaries.missing(include_optional=False)))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    return proc.stderr.strip() if proc.returncode else ""


@dataclass
class Netns:
    """A network namespace held open by a sleeping process; commands enter it with nsenter."""

    pid: int

    def argv(self, argv: list[str]) -> list[str]:
        return ["nsenter", f"--net=/proc/{self.pid}/ns/net", "--", *argv]

    def run(self, argv: list[str], env: dict[str, str], timeout: float = 600, cwd: Path | None = None
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(argv), env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd)

    def spawn(self, argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with open(log, "wb") as out:
            return subprocess.Popen(self.argv(argv), env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def free_port(self) -> int:
        code = "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
        return int(self.run([sys.executable, "-c", code], env=dict(os.environ), timeout=30).stdout.strip())


@pytest.fixture(scope="session")
def netns() -> Iterator[Netns]:
    if not shutil.which("unshare") or not shutil.which("nsenter"):
        pytest.skip("unshare and nsenter (util-linux) are needed to put the room in a network namespace of its own")
    holder = subprocess.Popen(["unshare", "-n", "sh", "-c", "ip link set lo up && echo up && exec sleep 3600"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = holder.stdout.readline().strip() if holder.stdout else ""
    if line != "up":
        err = holder.stderr.read() if holder.stderr else ""
        holder.kill()
        pytest.skip(f"no network namespace could be made here (unshare -n: {err.strip() or 'refused'}): run as root")
    ns = Netns(holder.pid)
    try:
        yield ns
    finally:
        holder.kill()
        holder.wait()


def person(root: Path, **extra: str) -> dict[str, str]:
    """An environment for one person of the room: a HOME and workshop folders of their own."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WORKSHOP_", "GO", "PIP_")) and k not in ("VIRTUAL_ENV",)}
    root.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(root), NO_COLOR="1", PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1",
               WORKSHOP_STATE_DIR=str(root / "state"), WORKSHOP_DATA_DIR=str(root / "data"),
               WORKSHOP_CACHE_DIR=str(root / "cache"), WORKSHOP_WORKSPACE=str(root / "wasm-workshop"),
               XDG_CACHE_HOME=str(root / ".cache"), XDG_CONFIG_HOME=str(root / ".config"))
    env.update(extra)
    return env


@dataclass
class Room:
    url: str
    token: str
    home: Path  # the instructor's room folder
    env: dict[str, str]
    log: Path


def _go_env(name: str) -> str:
    return subprocess.run(["go", "env", name], capture_output=True, text=True, timeout=30).stdout.strip()


@pytest.fixture(scope="session")
def instructor(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The instructor's environment: this prepared machine's tools and Go module cache, their own room
    folder; `workshop prepare --room` run once (outside the namespace: the wheels need PyPI once)."""
    if shutil.which("go") is None:
        pytest.skip("Go is not installed, so there is no prepared instructor's machine")
    why = _prepared_for_this_workshop()
    if why:
        pytest.skip(f"this machine's prepared programs are not this workshop's build of them ({why}): "
                    "run `workshop prepare` first")
    root = tmp_path_factory.mktemp("instructor")
    env = person(root, WORKSHOP_TOOLS_DIR=str(PREPARED), GOMODCACHE=_go_env("GOMODCACHE"), GOCACHE=_go_env("GOCACHE"))
    # the instructor's pip reaches PyPI as this machine's pip does (its configuration: an index, a CA
    # certificate); only the learners' pip is cut off from everything but the room
    del env["PIP_CONFIG_FILE"]
    env.update({k: v for k, v in os.environ.items() if k.startswith("PIP_")})
    wheels = os.environ.get("WORKSHOP_ROOM_WHEELS")  # a folder of wheels made before, to spare PyPI in a rerun
    if wheels:
        shutil.copytree(wheels, root / "data" / "room" / "wheels")
        (root / "data" / "room" / "wheels.done").write_text("ok\n")
    proc = subprocess.run([*WORKSHOP, "prepare", "--room", "--without-mesh"], env=env, capture_output=True, text=True,
                          timeout=1800, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return env


def serve(netns: Netns, env: dict[str, str], log: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """`workshop room serve` in the namespace; returns the process and the URL it printed."""
    port = netns.free_port()
    proc = netns.spawn([*WORKSHOP, "room", "serve", "--listen", f"127.0.0.1:{port}", *extra], env, log)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if "workshop join " in text:
            return proc, f"http://127.0.0.1:{port}"
        if proc.poll() is not None:
            raise AssertionError(f"room serve exited with {proc.returncode}:\n{text[-3000:]}")
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"room serve did not say it serves within 300 s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def room(netns: Netns, instructor: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Room]:
    log = tmp_path_factory.mktemp("room-log") / "serve.log"
    proc, url = serve(netns, instructor, log)
    home = Path(instructor["WORKSHOP_DATA_DIR"]) / "room"
    try:
        yield Room(url, (home / "token").read_text().strip(), home, instructor, log)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
