"""An instructor and learners as separate people on one machine: each their own HOME, state, data, cache
and workspace folders, each running the real `workshop` command. Shared by the room's live tests."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import make_content

CHECKS = '''import pytest


@pytest.mark.step("one")
def test_answer(workspace):
    text = (workspace / "answer.txt").read_text().strip()
    assert text == "solution", f"sha256 does not match: answer.txt says {text}"


@pytest.mark.step("two")
def test_two(workspace):
    assert (workspace / "answer.txt").read_text().strip() == "solution", "step two needs step one"
'''


def tiny_content(root: Path) -> Path:
    return make_content(root, CHECKS, step_ids=("one", "two"))


@dataclass
class Person:
    name: str
    home: Path
    content: Path
    extra: dict[str, str] = field(default_factory=dict)  # more environment (a room's database cap)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WORKSHOP_") or k == "WORKSHOP_TOOLS_DIR"}
        env.update(HOME=str(self.home), WORKSHOP_STATE_DIR=str(self.home / "state"), WORKSHOP_DATA_DIR=str(self.home / "data"),
                   WORKSHOP_CACHE_DIR=str(self.home / "cache"), WORKSHOP_WORKSPACE=str(self.home / "ws"),
                   WORKSHOP_CONTENT=str(self.content), NO_COLOR="1")
        return {**env, **self.extra}

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "workshop", *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "workshop", *args], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def solve(self, lab: str = "01-tiny") -> None:
        (self.home / "ws" / lab / "answer.txt").write_text("solution\n")

    @property
    def outbox(self) -> Path:
        return self.home / "state" / "room" / "outbox.jsonl"

    def sender_pids(self) -> list[int]:
        records = (self.home / "state" / "children").glob("*.json")
        pids = []
        for r in records:
            data = json.loads(r.read_text())
            if data.get("role") == "room:sender":
                pids.append(int(data["pid"]))
        return pids


@dataclass
class Room:
    """`workshop room serve --live-only`, started by the instructor; its address and token as it printed them."""

    instructor: Person
    proc: subprocess.Popen[str]
    url: str
    token: str
    page: str

    @classmethod
    def serve(cls, instructor: Person, port: int = 0, *more: str) -> Room:
        proc = instructor.start("room", "serve", "--live-only", "--listen", f"127.0.0.1:{port}", *more)
        seen = ""
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen += line
            if "/room/live#" in line:
                url = re.search(r"served at (http://[0-9.:]+)", seen)
                token = re.search(r"--token (\S+)", seen)
                assert url and token, seen
                return cls(instructor, proc, url.group(1), token.group(1), line.strip())
        proc.kill()
        raise AssertionError(f"the room did not start:\n{seen}")

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()

    def view(self) -> dict:
        done = self.instructor.run("room", "view", "--json", timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)

    def wait_for(self, ready, timeout: float = 30.0) -> dict:  # type: ignore[no-untyped-def]
        """The view once ``ready(view)`` holds (asked every quarter second)."""
        deadline = time.monotonic() + timeout
        view = self.view()
        while not ready(view):
            assert time.monotonic() < deadline, json.dumps(view, indent=1)[:3000]
            time.sleep(0.25)
            view = self.view()
        return view


def stop_senders(*people: Person) -> None:
    """The senders the learners' checks started (detached, as on a laptop): stopped at the end of a test."""
    for p in people:
        for pid in p.sender_pids():
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
