"""End to end: the real `workshop` in a real 80x24 terminal (tmux), through lab 01 with its solution applied."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")]


class Terminal:
    """One tmux server of our own (its own socket), so nothing else's sessions are touched."""

    def __init__(self, name: str) -> None:
        self.base = ["tmux", "-L", name]

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=10, check=False)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "app").stdout

    def wait_for(self, *texts: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.screen()
            if all(t in shown for t in texts):
                return shown
            time.sleep(0.2)
        raise AssertionError(f"the screen never showed {texts!r}; it showed:\n{self.screen()}")

    def press(self, key: str) -> None:
        self.tmux("send-keys", "-t", "app", key)

    def alive(self) -> bool:
        return self.tmux("has-session", "-t", "app").returncode == 0


def test_lab01_solved_passes_every_step_in_the_real_app(tmp_path: Path, lab01_content: Path) -> None:
    ws = tmp_path / "ws"
    cli = [sys.executable, "-m", "workshop", "--content", str(lab01_content), "--workspace", str(ws)]
    for args in (["start", "01"], ["solve", "01"]):
        subprocess.run([*cli, *args], check=True, capture_output=True, timeout=60)
    env = [f"{k}={v}" for k, v in os.environ.items() if k.startswith("WORKSHOP_") or k in ("PATH", "HOME", "GOPATH",
                                                                                            "GOCACHE", "GOMODCACHE")]
    term = Terminal(f"workshop-e2e-{os.getpid()}")
    try:
        started = term.tmux("new-session", "-d", "-s", "app", "-x", "80", "-y", "24",
                            shlex.join(["env", "TERM=xterm-256color", *env, *cli]))
        assert started.returncode == 0, started.stderr
        term.wait_for("Lab 01 · step 1/3", "c Check", timeout=30)
        for n, expected in ((1, "All 1 check(s) passed"), (2, "All 3 check(s) passed"), (3, "All 1 check(s) passed")):
            term.press("c")
            shown = term.wait_for(expected, f"step {n}/3", timeout=240)
            assert "failed" not in shown
            if n < 3:
                term.press("n")
                term.wait_for(f"step {n + 1}/3", timeout=10)
        # The notice can reach the screen a frame before the lab's summary does: wait for both.
        term.wait_for("Lab 01 complete", "3 of 3 steps passed", "✓ Build a Proxy-Wasm module", "✓ Run it in Envoy",
                      timeout=10)
        term.wait_for("✓ passed   envoy:", "✓ All 1 check(s) passed.", timeout=10)  # once the notices fade
        term.press("q")
        deadline = time.monotonic() + 15
        while term.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not term.alive(), "the app did not quit on q"
    finally:
        term.tmux("kill-server")
