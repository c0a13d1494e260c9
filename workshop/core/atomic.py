"""Writes that survive a killed process: temp file, fsync, rename, fsync the folder."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def kept_secret(path: Path, make: Callable[[], str], renew: bool = False) -> str:
    """A secret kept in a file only its owner reads (0600): the one there, or one ``make()``s, written once.

    Two processes making it at once agree on the first one written (a hard link never replaces a file);
    ``renew`` replaces it whatever is there."""
    if not renew:
        try:
            if text := path.read_text().strip():
                return text
        except FileNotFoundError:
            pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(make() + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            if renew or (path.exists() and not path.read_text().strip()):
                os.replace(tmp, path)
            else:
                os.link(tmp, path)
        except FileExistsError:
            pass  # another process wrote its secret first: that one is kept
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path.read_text().strip()
