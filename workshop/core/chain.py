"""The content chain: a lab's starter is the solution of the lab it continues, plus the lab's own files.

A lab.md that says ``continues: 05-oci-image`` starts from ``solutions/05-oci-image``; its
``labs/<lab>/starter/`` then holds only what the lab adds or changes (its TODO versions of files, its
new files). ``starter_files`` assembles the whole starter a learner gets, and every user of a starter
(``workshop start`` and ``reset``, the app's reset, selftest, the grading tests) reads it through that one
function, so a file shared by many labs (the filter, a script) is written once, in the solution of the lab
that made it. ``repeated_files`` finds the starter files that only repeat the continued solution's.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from workshop.core.content import ContentError, Lab

# Never part of a lab's files: a build's output, a git folder, the workspace's backups.
IGNORED = {"plugin.wasm", ".git", ".backups", "__pycache__"}


def files_in(root: Path) -> dict[str, Path]:
    """Every file under ``root`` (by its path relative to it, with ``/``), in name order."""
    if not root.is_dir():
        return {}
    found = {
        p.relative_to(root).as_posix(): p
        for p in root.rglob("*")
        if p.is_file() and not (set(p.relative_to(root).parts) & IGNORED)
    }
    return dict(sorted(found.items()))


def base_files(lab: Lab) -> dict[str, Path]:
    """What the lab starts from: the solution of the lab it continues (nothing for a first lab)."""
    if not lab.continues:
        return {}
    base = lab.root / "solutions" / lab.continues
    if not base.is_dir():
        raise ContentError(f"{lab.lab_md}:2", f"continues: {lab.continues} has no solution folder ({base}); "
                                              "name the folder of the lab whose solution this one starts from")
    return files_in(base)


def starter_files(lab: Lab) -> dict[str, Path]:
    """The whole starter a learner gets, by path in the lab folder: the continued solution's files, with the
    lab's own starter files over them."""
    files = base_files(lab)
    files.update(files_in(lab.starter_dir))
    return dict(sorted(files.items()))


def solution_files(lab: Lab) -> dict[str, Path]:
    """The lab's solution, by path in the lab folder (a solution is always whole)."""
    return files_in(lab.solution_dir)


def repeated_files(lab: Lab) -> list[str]:
    """The lab's own starter files that are byte for byte the continued solution's: they belong to that
    solution alone (delete them from the starter; the chain brings them)."""
    base = base_files(lab)
    own = files_in(lab.starter_dir)
    return [rel for rel, path in own.items() if rel in base and base[rel].read_bytes() == path.read_bytes()]


def write_files(files: Mapping[str, Path], dest: Path) -> Path:
    """Copy ``files`` (path in the lab folder -> source file) into ``dest``; returns ``dest``."""
    for rel, source in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return dest

