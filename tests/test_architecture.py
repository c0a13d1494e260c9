"""The headless core never imports Textual (an import-linter contract in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess

from tests.conftest import ROOT


def test_import_contracts_hold() -> None:
    assert shutil.which("lint-imports"), "import-linter is missing: pip install -e '.[test]'"
    proc = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 kept, 0 broken" in proc.stdout
