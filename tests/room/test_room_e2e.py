"""An instructor's three commands and a learner's one, driven as they would be, inside a network
namespace with only loopback: `workshop prepare --room` (before, where PyPI answers), `workshop room
serve`, `workshop room goto 03`; `workshop join URL --token T --name NAME`, then the pip line for a
learner without the workshop."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.room.conftest import WORKSHOP, Netns, Room, person

pytestmark = pytest.mark.slow


def _py(netns: Netns, env: dict[str, str], code: str) -> str:
    proc = netns.run([sys.executable, "-c", code], env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip()


def test_nothing_outside_the_room_answers(netns: Netns, tmp_path: Path) -> None:
    """The namespace proves the rest: PyPI and the Go module proxy cannot even be resolved or reached."""
    code = ("import socket\ntry:\n    socket.create_connection(('151.101.0.223', 443), timeout=3)\n    print('reached')\n"
            "except OSError as exc:\n    print('unreachable', exc)")
    assert _py(netns, person(tmp_path / "x"), code).startswith("unreachable")


def test_a_learner_joins_a_room_and_is_ready(netns: Netns, room: Room, tmp_path: Path) -> None:
    goto = netns.run([*WORKSHOP, "room", "goto", "03"], env=room.env, timeout=120)
    assert goto.returncode == 0 and "03-configuration" in goto.stdout, goto.stdout + goto.stderr
    served = room.log.read_text()
    assert f"workshop join {room.url} --token {room.token} --name" in served
    assert "pip install --index-url" in served

    learner = person(tmp_path / "ada", WORKSHOP_TOOLS_DIR=str(tmp_path / "ada" / "tools"))
    joined = netns.run([*WORKSHOP, "join", room.url, "--token", room.token, "--name", "ada"], env=learner, timeout=900)
    assert joined.returncode == 0, joined.stdout[-3000:] + joined.stderr[-3000:]
    assert "on lab 03-configuration" in joined.stdout

    # every program counts as built the way prepare would build it, so nothing is rebuilt
    missing = _py(netns, learner, "from workshop.env import binaries; print([p.name for p in binaries.missing()])")
    assert missing == "[]"
    tools = Path(learner["WORKSHOP_TOOLS_DIR"])
    for name in ("etcd", "kube-apiserver", "kubectl", "pilot-discovery", "pilot-agent", "registry", "go-httpbin", "oras",
                 "func-e"):
        assert (tools / "bin" / name).is_file(), name
    assert (tools / "bin" / "envoy").is_symlink()
    assert list((tools / "func-e").rglob("envoy-versions/*/bin/envoy")) or list(tools.rglob("envoy-versions/*/bin/envoy"))
    state = json.loads((tmp_path / "ada" / "state" / "room" / "joined.json").read_text())
    assert state["url"] == room.url and state["token"] == room.token and state["name"] == "ada"
    assert (tmp_path / "ada" / "wasm-workshop" / "03-configuration").is_dir()

    # the lab's Wasm build runs offline now (GOPROXY=off): the modules came from the room
    lab = tmp_path / "ada" / "wasm-workshop" / "03-configuration"
    build = netns.run(["go", "build", "-buildmode=c-shared", "-o", "plugin.wasm", "."], cwd=lab, timeout=300,
                      env={**learner, "GOOS": "wasip1", "GOARCH": "wasm", "GOPROXY": "off", "GOFLAGS": "-mod=mod"})
    assert build.returncode == 0, build.stdout + build.stderr

    # run again: it resumes, nothing verified is fetched twice
    again = netns.run([*WORKSHOP, "join", room.url, "--token", room.token, "--name", "ada"], env=learner, timeout=600)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert " 0 file(s) from the room (0 MB)" in again.stdout, again.stdout


def test_a_learner_without_the_workshop_installs_it_from_the_room(netns: Netns, room: Room, tmp_path: Path) -> None:
    learner = person(tmp_path / "grace")
    venv = tmp_path / "grace" / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    line = next(x for x in room.log.read_text().splitlines() if "pip install --index-url" in x)
    index = line.split("--index-url", 1)[1].split()[0]
    proc = netns.run([str(venv / "bin" / "pip"), "install", "--index-url", index, "wasm-workshop"], env=learner, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    version = netns.run([str(venv / "bin" / "workshop"), "--version"], env=learner, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("workshop "), version.stdout + version.stderr
    envoy = netns.run([str(venv / "bin" / "python"), "-c", "import envoy, textual, aiohttp, zstandard; print('ok')"],
                      env=learner, timeout=60)
    assert envoy.stdout.strip() == "ok", envoy.stderr


def test_prepare_from_a_room_without_joining(netns: Netns, room: Room, tmp_path: Path) -> None:
    learner = person(tmp_path / "alan", WORKSHOP_TOOLS_DIR=str(tmp_path / "alan" / "tools"))
    proc = netns.run([*WORKSHOP, "prepare", "--from", room.url, "--token", room.token], env=learner, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "the labs now run offline" in proc.stdout
    missing = _py(netns, learner, "from workshop.env import binaries; print([p.name for p in binaries.missing()])")
    assert missing == "[]"
    assert not (tmp_path / "alan" / "state" / "room" / "joined.json").exists()
    assert not (tmp_path / "alan" / "wasm-workshop").exists()
    no_token = netns.run([*WORKSHOP, "prepare", "--from", room.url], env=learner, timeout=60)
    assert no_token.returncode == 2 and "--from needs the room's token too" in no_token.stderr
