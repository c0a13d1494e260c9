"""The learner's workspace: one folder per lab, made from the lab's starter (assembled by core/chain.py).

Nothing here deletes or overwrites a learner's file without first copying it to
``<workspace>/.backups/<lab>/<time>-<reason>/``.
"""

from __future__ import annotations

import difflib
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from workshop.core.chain import IGNORED, files_in, starter_files
from workshop.core.content import Lab

BACKUPS = ".backups"


@dataclass
class Change:
    """What an operation did to a lab folder."""

    lab_dir: Path
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    backup: Path | None = None


def lab_dir(workspace: Path, lab: Lab) -> Path:
    return workspace / lab.slug


def _files(root: Path) -> list[str]:
    return list(files_in(root))


Files = Path | Mapping[str, Path]  # a folder, or each file's path in the lab folder -> the file to copy


def _mapping(source: Files) -> Mapping[str, Path]:
    return files_in(source) if isinstance(source, Path) else source


def start(workspace: Path, lab: Lab) -> Change:
    """Make the lab's folder from its starter; files the learner already has are kept as they are."""
    dest = lab_dir(workspace, lab)
    change = Change(lab_dir=dest)
    for rel, source in starter_files(lab).items():
        target = dest / rel
        if target.exists():
            change.kept.append(rel)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        change.written.append(rel)
    return change


def backup(workspace: Path, lab: Lab, reason: str, only: list[str] | None = None) -> Path | None:
    """Copy the learner's files of this lab aside; returns the backup folder, or None if nothing to keep."""
    src = lab_dir(workspace, lab)
    files = [f for f in _files(src) if only is None or f in only]
    if not files:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = workspace / BACKUPS / lab.slug / f"{stamp}-{reason}"
    n = 1
    while dest.exists():
        n += 1
        dest = workspace / BACKUPS / lab.slug / f"{stamp}-{reason}-{n}"
    for rel in files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, dest / rel)
    return dest


def put(workspace: Path, lab: Lab, source: Files, reason: str, only: list[str] | None = None) -> Change:
    """Put ``source``'s files (the solution, or ``chain.starter_files(lab)``) in the lab folder, after a backup.

    Files the learner added that ``source`` lacks are left alone.
    """
    dest = lab_dir(workspace, lab)
    files = {f: p for f, p in _mapping(source).items() if only is None or f in only}
    differing = [f for f, p in files.items() if (dest / f).exists() and (dest / f).read_bytes() != p.read_bytes()]
    change = Change(lab_dir=dest, backup=backup(workspace, lab, reason, only=differing) if differing else None)
    for rel, path in files.items():
        target = dest / rel
        if target.exists() and target.read_bytes() == path.read_bytes():
            change.kept.append(rel)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        change.written.append(rel)
    return change


def diff(workspace: Path, lab: Lab, source: Files, name: str = "solution") -> str:
    """A unified diff from the learner's files to ``source``'s (what `solve` would change)."""
    dest = lab_dir(workspace, lab)
    out: list[str] = []
    for rel, path in _mapping(source).items():
        new = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
        mine = dest / rel
        old = mine.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True) if mine.exists() else []
        out.extend(difflib.unified_diff(old, new, f"yours/{rel}", f"{name}/{rel}"))
    return "".join(out)


def copy_tree(source: Path, dest: Path) -> None:
    """A fresh copy of a lab folder, used by selftest and grading."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(*IGNORED), dirs_exist_ok=True)


def migrate(workspace: Path, labs: list[Lab]) -> list[str]:
    """A lab renumbered (its front matter says what it was ``formerly``): the learner's folder under the
    old name becomes the new one, unless both exist. Returns what moved, in words."""
    moved = []
    for lab in labs:
        new = lab_dir(workspace, lab)
        for old_name in lab.formerly:
            old = workspace / old_name
            if old.is_dir() and not new.exists():
                old.rename(new)
                moved.append(f"your folder {old_name} is now {lab.slug}")
    return moved
