"""The content chain: a lab's starter is the solution of the lab it continues, plus the lab's own files.

A lab.md that says ``continues: 05-oci-image`` starts from the whole solution of 05-oci-image; its
``labs/<lab>/starter/`` then holds only what the lab adds or changes (its TODO versions of files, its
new files), and its ``solutions/<lab>/`` only the files its solution adds or changes over that starter.
``starter_files`` and ``solution_files`` assemble the whole starter and the whole solution, and every
user of either (``workshop start``, ``reset`` and ``solve``, the app, selftest, grading, the room) reads
them through these functions, so a file shared by many labs (the filter, a script) is written once, in
the folder of the lab that made or last changed it. ``repeated_files`` and ``repeated_solution_files``
find the files that only repeat what the chain brings already.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Mapping
from pathlib import Path

from workshop.core.content import ContentError, Lab, Workshop, load_lab

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


def continued(lab: Lab) -> Lab | None:
    """The lab whose solution this one starts from (None for a first lab)."""
    if not lab.continues:
        return None
    where = f"{lab.lab_md}:2"
    if not (lab.root / "solutions" / lab.continues).is_dir():
        raise ContentError(where, f"continues: {lab.continues} has no solution folder ({lab.root / 'solutions' / lab.continues}); "
                                  "name the folder of the lab whose solution this one starts from")
    try:
        md = lab.root / "labs" / lab.continues / "lab.md"
        before = _load(lab.root, lab.continues, md.stat().st_mtime_ns)
    except (ContentError, OSError) as exc:
        raise ContentError(where, f"continues: {lab.continues}, which cannot be read: {exc}") from None
    if before.id >= lab.id:
        raise ContentError(where, f"continues: {lab.continues} is not an earlier lab (a chain only goes back)")
    return before


@functools.lru_cache(maxsize=64)
def _load(root: Path, slug: str, _stamp: int) -> Lab:
    return load_lab(root, slug)  # a chain reads each lab.md it passes once per version of it


def base_files(lab: Lab) -> dict[str, Path]:
    """What the lab starts from: the whole solution of the lab it continues (nothing for a first lab)."""
    before = continued(lab)
    return solution_files(before) if before is not None else {}


def starter_files(lab: Lab) -> dict[str, Path]:
    """The whole starter a learner gets, by path in the lab folder: the continued solution's files, with the
    lab's own starter files over them."""
    return _overlaid(base_files(lab), lab.starter_dir)


def solution_files(lab: Lab) -> dict[str, Path]:
    """The whole solution, by path in the lab folder: the whole starter with the lab's own solution files
    over it (the learner's work done)."""
    return _overlaid(starter_files(lab), lab.solution_dir)


def _overlaid(base: Mapping[str, Path], folder: Path) -> dict[str, Path]:
    """``base`` with the files under ``folder`` over it, in name order."""
    return dict(sorted({**base, **files_in(folder)}.items()))


def go_solutions(workshop: Workshop) -> dict[str, dict[str, Path]]:
    """The whole solution of every lab that builds a Go module, by lab slug, in lab order."""
    found = {lab.slug: solution_files(lab) for lab in workshop.labs}
    return {slug: files for slug, files in found.items() if "go.mod" in files}


def repeated_files(lab: Lab) -> list[str]:
    """The lab's own starter files that are byte for byte the continued solution's: they belong to that
    solution alone (delete them from the starter; the chain brings them)."""
    return _repeating(lab.starter_dir, base_files(lab))


def repeated_solution_files(lab: Lab) -> list[str]:
    """The lab's own solution files that are byte for byte the starter's (delete them: the chain brings them)."""
    return _repeating(lab.solution_dir, starter_files(lab))


def _repeating(own_dir: Path, base: Mapping[str, Path]) -> list[str]:
    """The files under ``own_dir`` that are byte for byte what ``base`` brings at the same path."""
    return [rel for rel, path in files_in(own_dir).items() if rel in base and base[rel].read_bytes() == path.read_bytes()]


def write_files(files: Mapping[str, Path], dest: Path) -> Path:
    """Copy ``files`` (path in the lab folder -> source file) into ``dest``; returns ``dest``."""
    for rel, source in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return dest

