from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from workshop.core.progress import PASSED, ProgressStore


def test_progress_survives_a_new_store(tmp_path: Path) -> None:
    store = ProgressStore(tmp_path / "ws")
    store.update(lambda p: setattr(p, "current_lab", "01-first-filter"))
    store.update(lambda p: setattr(p.step("01-first-filter", "build"), "status", PASSED))
    again = ProgressStore(tmp_path / "ws").load()
    assert again.current_lab == "01-first-filter"
    assert again.status("01-first-filter", "build") == PASSED
    assert again.status("01-first-filter", "envoy") == "not started"


def test_each_workspace_has_its_own_file(tmp_path: Path) -> None:
    assert ProgressStore(tmp_path / "a").path != ProgressStore(tmp_path / "b").path


def test_a_damaged_file_is_kept_aside(tmp_path: Path) -> None:
    store = ProgressStore(tmp_path / "ws")
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{not json")
    assert store.load().labs == {}
    assert list(store.path.parent.glob("*.damaged-*.json"))


WRITER = """
import sys
from pathlib import Path
from workshop.core.progress import ProgressStore
store = ProgressStore(Path(sys.argv[1]))
for i in range(int(sys.argv[2])):
    store.update(lambda p: setattr(p.step("lab", "s"), "attempts", p.step("lab", "s").attempts + 1))
"""


def test_concurrent_writers_lose_no_update(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(ws), "40"]) for _ in range(3)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    assert ProgressStore(ws).load().step("lab", "s").attempts == 120


def test_a_writer_killed_mid_way_leaves_a_whole_file(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(ws), "100000"])
    store = ProgressStore(ws)
    deadline = time.monotonic() + 30
    while not store.path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    data = json.loads(store.path.read_text())  # whole, never half-written
    assert data["labs"]["lab"]["s"]["attempts"] > 0
