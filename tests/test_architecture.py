"""The house as pyproject.toml draws it: the import-linter contracts (the layers point one way, and
env/'s own floors too; the headless floors never import Textual) and ruff's rules hold for the whole tree."""

from __future__ import annotations

import shutil
import subprocess

from tests.conftest import ROOT


def test_import_contracts_hold() -> None:
    assert shutil.which("lint-imports"), "import-linter is missing: pip install -e '.[test]'"
    proc = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 kept, 0 broken" in proc.stdout


def test_ruff_finds_nothing() -> None:
    assert shutil.which("ruff"), "ruff is missing: pip install -e '.[test]'"
    proc = subprocess.run(["ruff", "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
