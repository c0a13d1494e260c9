"""Reading logs that keep growing (a sidecar writes a line per request): only their end is read."""

from __future__ import annotations

import os
from pathlib import Path

TAIL_BYTES = 256_000


def read_tail(path: str | Path, max_bytes: int = TAIL_BYTES) -> str:
    """The last ``max_bytes`` of a file as text ("" when it cannot be read); the first line may be cut."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - max_bytes))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
