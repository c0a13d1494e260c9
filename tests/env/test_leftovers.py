"""The suite-end check (tests/env/conftest.py) really finds what outlives a test, so it can fail."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.env.conftest import _our_processes


def test_the_leftover_detector_finds_a_process_started_under_the_suite(isolated: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    base = str(tmp_path_factory.getbasetemp())
    stray = subprocess.Popen(["sleep", "30"], env={"PATH": "/usr/bin:/bin", "WORKSHOP_STATE_DIR": str(isolated / "state")})
    try:
        assert any(f"pid {stray.pid}:" in line for line in _our_processes(base))  # found, and killed
        assert stray.wait(timeout=5) == -9
    finally:
        stray.kill()
