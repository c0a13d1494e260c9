"""Watch mode: notice when the learner saves a file in the lab folder (mtime polling, no extra dependency)."""

from __future__ import annotations

import time
from pathlib import Path

from workshop.core.workspace import IGNORED

Snapshot = dict[str, tuple[int, int]]


class FolderWatch:
    """Polls a lab folder; ``poll()`` says when a re-check should run: once a change has been quiet for
    ``debounce`` seconds (an editor's save is a few writes within milliseconds)."""

    def __init__(self, folder: Path, debounce: float = 0.1) -> None:
        self.folder = folder
        self.debounce = debounce
        self._seen = self.snapshot()
        self._changed_at: float | None = None

    def snapshot(self) -> Snapshot:
        found: Snapshot = {}
        if not self.folder.is_dir():
            return found
        for path in self.folder.rglob("*"):
            rel = path.relative_to(self.folder)
            if set(rel.parts) & IGNORED or any(part.startswith(".") for part in rel.parts):
                continue
            try:
                st = path.stat()
            except OSError:  # deleted between listing and stat
                continue
            if path.is_file():
                found[str(rel)] = (st.st_mtime_ns, st.st_size)
        return found

    def poll(self) -> bool:
        """Look at the folder; True when a change has settled for ``debounce`` seconds."""
        now = time.monotonic()
        current = self.snapshot()
        if current != self._seen:
            self._seen = current
            self._changed_at = now  # each new save restarts the quiet period
            return False
        if self._changed_at is not None and now - self._changed_at >= self.debounce:
            self._changed_at = None
            return True
        return False
