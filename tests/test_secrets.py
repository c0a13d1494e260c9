"""Secrets kept in files (the room token, the view key, a machine's secret for rooms)."""

from __future__ import annotations

import stat
from pathlib import Path

from workshop.core.atomic import kept_secret


def test_a_secret_is_made_once_kept_private_and_renewed_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "room" / "token"
    made = iter(["first", "second", "third"])
    assert kept_secret(path, lambda: next(made)) == "first"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert kept_secret(path, lambda: next(made)) == "first"  # kept: nothing made again
    assert kept_secret(path, lambda: next(made), renew=True) == "second"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["token"]  # no temporary file left behind


def test_an_empty_secret_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("\n")
    assert kept_secret(path, lambda: "made") == "made"
    assert path.read_text() == "made\n"
