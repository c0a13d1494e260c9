"""Reading what programs write: logs that keep growing (a sidecar writes a line per request), of which
only the end is read, and a JSON answer printed among log lines."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

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


def json_answer(output: str) -> Any:
    """The JSON a program printed as its answer, in output that also holds its log lines (stdout and
    stderr read together): the last value that starts a line. ValueError when there is none."""
    start = 0 if output.startswith(("{", "[")) else max(output.rfind("\n{"), output.rfind("\n[")) + 1
    if start == 0 and not output.startswith(("{", "[")):
        raise ValueError("the output holds no JSON")
    return json.JSONDecoder().raw_decode(output, start)[0]
