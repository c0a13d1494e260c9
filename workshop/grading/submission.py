"""Submissions to grade: a workspace folder, a git repository or a tarball, copied before anything runs.

The original is never written to. A folder is copied without links that leave it; a repository is
cloned (what is committed is what is graded); a tarball is extracted only when every member stays
inside the destination, is a plain file, folder or link inside it, and the whole fits the limits.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from workshop.core.errors import WorkshopError
from workshop.env import supervisor

FOLDER, GIT, TARBALL = "folder", "git", "tarball"
MAX_BYTES = 200 << 20
MAX_FILES = 20_000
SKIPPED = {".git", ".backups"}
TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar")
REMOTE = re.compile(r"^(https?|ssh|git|file)://|^[\w.-]+@[\w.-]+:")


class SubmissionError(WorkshopError):
    """A submission that cannot be read; the message says why, in one sentence."""


@dataclass
class Submission:
    """One learner's work, as the instructor named it."""

    name: str  # the learner: the folder's, repository's or tarball's name
    source: str
    kind: str


def identify(source: str) -> Submission:
    """What kind of submission ``source`` is; raises SubmissionError when it does not exist."""
    path = Path(source).expanduser()
    if REMOTE.match(source):
        return Submission(_stem(source.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]), source, GIT)
    if path.is_dir():
        kind = GIT if (path / ".git").exists() else FOLDER
        return Submission(path.resolve().name, str(path.resolve()), kind)
    if path.is_file() and (source.endswith(TAR_SUFFIXES) or tarfile.is_tarfile(path)):
        return Submission(_stem(path.name), str(path.resolve()), TARBALL)
    if path.exists():
        raise SubmissionError(f"{source} is neither a folder, a git repository nor a tarball: pass one of those")
    raise SubmissionError(f"{source} does not exist: check the path")


def _stem(name: str) -> str:
    for suffix in (*TAR_SUFFIXES, ".git"):
        if name.endswith(suffix):
            return name[: -len(suffix)] or name
    return name


def unique_names(submissions: list[Submission]) -> None:
    """Make names unique (alice, alice-2), so that reports never mix two learners."""
    seen: dict[str, int] = {}
    for sub in submissions:
        n = seen.get(sub.name, 0) + 1
        seen[sub.name] = n
        if n > 1:
            sub.name = f"{sub.name}-{n}"


def materialize(sub: Submission, dest: Path, lab_slugs: list[str]) -> Path:
    """Copy the submission into ``dest``; returns the workspace (the folder holding the lab folders)."""
    dest.mkdir(parents=True, exist_ok=False)
    if sub.kind == FOLDER:
        copy_folder(Path(sub.source), dest)
    elif sub.kind == GIT:
        clone(sub.source, dest)
    else:
        extract(Path(sub.source), dest)
    return find_workspace(dest, lab_slugs)


def copy_folder(source: Path, dest: Path) -> None:
    """Copy plain files and folders; links are kept only when they stay inside ``source``."""
    total = files = 0
    root = source.resolve()
    for here, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED)
        rel = Path(here).relative_to(root)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for name in [*names, *[d for d in dirs if (Path(here) / d).is_symlink()]]:
            src = Path(here) / name
            info = src.lstat()
            if stat.S_ISLNK(info.st_mode):
                target = os.readlink(src)
                if not os.path.isabs(target) and _inside(root, (Path(here) / target).resolve()):
                    (dest / rel / name).symlink_to(target)
                continue
            if not stat.S_ISREG(info.st_mode):
                continue  # fifos, sockets, devices: never graded, never opened
            total += info.st_size
            files += 1
            _within_limits(total, files, str(source))
            shutil.copy2(src, dest / rel / name, follow_symlinks=False)
        dirs[:] = [d for d in dirs if not (Path(here) / d).is_symlink()]


def _inside(root: Path, path: Path) -> bool:
    return path == root or root in path.parents


def _within_limits(total: int, files: int, what: str) -> None:
    if total > MAX_BYTES:
        raise SubmissionError(f"{what} holds more than {MAX_BYTES >> 20} MB: remove build outputs and caches from it")
    if files > MAX_FILES:
        raise SubmissionError(f"{what} holds more than {MAX_FILES} files: remove build outputs and caches from it")


def clone(source: str, dest: Path, timeout: float = 180) -> None:
    """``git clone`` without running anything the repository carries; its .git is dropped afterwards."""
    git = shutil.which("git")
    if not git:
        raise SubmissionError("git is not installed: install it to grade repositories, or pass folders or tarballs")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_LFS_SKIP_SMUDGE": "1"}
    argv = [git, "-c", "protocol.ext.allow=never", "-c", "core.hooksPath=/dev/null", "-c", "core.symlinks=true",
            "clone", "--quiet", "--no-hardlinks", "--", source, str(dest / "repo")]
    cloned = supervisor.run(argv, timeout=timeout, env=env, label="git clone")
    if cloned.timed_out:
        raise SubmissionError(f"cloning {source} took longer than {timeout:g} s: clone it yourself and pass the folder")
    if not cloned.ok:
        reason = (cloned.output.strip().splitlines() or ["no output"])[-1]
        raise SubmissionError(f"git could not clone {source} ({reason}): check that it is a repository you can read")
    shutil.rmtree(dest / "repo" / ".git", ignore_errors=True)
    staged = dest / "repo"
    copy_folder(staged, dest / "checked")  # drops links that leave the repository, enforces the limits
    shutil.rmtree(staged)
    for item in (dest / "checked").iterdir():
        item.rename(dest / item.name)
    (dest / "checked").rmdir()


def _safe_member(member: tarfile.TarInfo, names: set[str]) -> str | None:
    """Why ``member`` may not be extracted, or None."""
    path = PurePosixPath(member.name)
    if path.is_absolute() or member.name.startswith(("/", "\\")):
        return f"{member.name} has an absolute path"
    if ".." in path.parts:
        return f"{member.name} climbs out with '..'"
    if member.issym() or member.islnk():
        target = PurePosixPath(member.linkname)
        resolved = target if member.islnk() else path.parent / target
        if target.is_absolute() or ".." in PurePosixPath(os.path.normpath(str(resolved))).parts or \
                os.path.normpath(str(resolved)).startswith(".."):
            return f"{member.name} links outside the tarball ({member.linkname})"
        if member.islnk() and member.linkname not in names:
            return f"{member.name} is a hard link to {member.linkname}, which is not in the tarball"
    elif not (member.isfile() or member.isdir()):
        return f"{member.name} is a device, fifo or other special file"
    return None


def extract(tarball: Path, dest: Path) -> None:
    """Extract a tarball after checking every member (paths, links, sizes)."""
    try:
        with tarfile.open(tarball) as tar:
            members = tar.getmembers()
            if len(members) > MAX_FILES:
                _within_limits(0, len(members), str(tarball))
            names = {m.name for m in members}
            total = 0
            for member in members:
                reason = _safe_member(member, names)
                if reason:
                    raise SubmissionError(f"the tarball {tarball.name} is unsafe: {reason}; pack the workspace folder alone")
                total += max(0, member.size) if member.isfile() else 0
                _within_limits(total, 0, str(tarball))
            extract_kw = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(dest, members=members, **extract_kw)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise SubmissionError(f"the tarball {tarball.name} cannot be read ({exc}): pack it again with `tar czf`") from None


def find_workspace(root: Path, lab_slugs: list[str]) -> Path:
    """The folder holding the lab folders: ``root``, or the one folder a tarball or repository wraps them in."""
    here = root
    for _ in range(3):
        if any((here / slug).is_dir() for slug in lab_slugs):
            return here
        inner = [p for p in here.iterdir() if p.is_dir() and not p.name.startswith(".")]
        files = [p for p in here.iterdir() if p.is_file() and not p.name.startswith(".")]
        if len(lab_slugs) == 1 and (here / "go.mod").exists():  # one lab's folder, given on its own
            wrapped = root.parent / f"{root.name}-workspace"
            wrapped.mkdir()
            here.rename(wrapped / lab_slugs[0])
            return wrapped
        if len(inner) != 1 or files:
            return here
        here = inner[0]
    return here
