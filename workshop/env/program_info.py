"""What a program's file says about itself: whether it holds some bytes, and the Go modules that built it.

``workshop doctor`` (tools) and the mesh's builds (binaries) both ask it, so it imports neither.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from workshop.env import supervisor


def find_in_file(path: Path, needle: bytes, chunk: int = 1 << 20) -> int:
    """Offset of the first ``needle`` in the file, or -1; reads it in chunks."""
    with open(path, "rb") as f:
        offset, tail = 0, b""
        while block := f.read(chunk):
            data = tail + block
            i = data.find(needle)
            if i >= 0:
                return offset - len(tail) + i
            tail = data[-(len(needle) - 1) :]
            offset += len(block)
    return -1


BUILDINFO_MAGIC = b"\xff Go buildinf:"


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def embedded_modinfo(path: Path) -> str:
    """The module lines Go 1.18+ embeds in a binary (what `go version -m` prints); "" if there are none."""
    at = find_in_file(path, BUILDINFO_MAGIC)
    if at < 0:
        return ""
    with open(path, "rb") as f:
        f.seek(at)
        head = f.read(1 << 20)
    if len(head) < 33 or not head[15] & 2:  # older binaries point into memory instead: not worth it
        return ""
    try:
        pos = 32
        for _ in range(2):  # the Go version, then the module info
            size, pos = _uvarint(head, pos)
            text, pos = head[pos : pos + size], pos + size
    except IndexError:
        return ""
    return text[16:-16].decode("utf-8", errors="replace") if len(text) > 32 else ""


def go_binary_version(path: Path, module: str) -> str:
    """The version of ``module`` that built the binary at ``path`` ("v1.6.0"), or "" if it was not."""
    go = shutil.which("go")
    info = ""
    if go:
        try:
            done = supervisor.run([go, "version", "-m", str(path)], cwd=Path(tempfile.gettempdir()), timeout=20,
                                  label="go version")
            info = done.output if done.ok else ""
        except OSError:
            info = ""
    if not info:
        try:
            info = embedded_modinfo(path)
        except OSError:
            return ""
    m = re.search(rf"^\s*(?:mod|dep)\s+{re.escape(module)}\s+(\S+)", info, re.M)  # dep: built in a wrapper module
    return m.group(1) if m else ""
