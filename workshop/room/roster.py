"""The room's roster: who is on which lab and step, who has been stuck longest, and why (`workshop room view DIR`).

Reads one folder holding the learners' progress files (``*.json``, as the workshop writes them under
its state folder) or their workspaces (whose progress is then read from this machine's state folder).
Stuck means: the current step is failing; stuck for the time since the learner last passed a step
(or, if they never did, since their first attempt).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from workshop.core.progress import FAILING, PASSED, Progress, ProgressStore
from workshop.core.texttable import text_table

DEFAULT_WORKSPACE_NAME = "wasm-workshop"


@dataclass
class Seat:
    """One learner in the room."""

    learner: str
    lab: str
    step: str
    status: str
    attempts: int
    stuck_seconds: float  # 0 when not stuck
    message: str  # the last failing check's message
    passed_steps: int
    updated: float
    workspace: str


def learner_name(progress: Progress, fallback: str) -> str:
    """The workspace's folder name; for the default ~/wasm-workshop, the folder above it (their home)."""
    path = Path(progress.workspace) if progress.workspace else None
    if path is None or not path.name:
        return fallback
    if path.name == DEFAULT_WORKSPACE_NAME and path.parent.name:
        return path.parent.name
    return path.name


def seat(progress: Progress, fallback: str, now: float | None = None) -> Seat:
    now = now or time.time()
    steps = [(lab, sid, sp) for lab, by_step in progress.labs.items() for sid, sp in by_step.items()]
    current = progress.labs.get(progress.current_lab, {}).get(progress.current_step)
    failing = [(lab, sid, sp) for lab, sid, sp in steps if sp.status == FAILING]
    status = current.status if current else "not started"
    passes = [sp.updated for _, _, sp in steps if sp.status == PASSED and sp.updated]
    tried = [sp.updated for _, _, sp in steps if sp.updated]
    stuck = 0.0
    if status == FAILING or (current is None and failing):
        since = max(passes) if passes else (min(tried) if tried else now)
        stuck = max(0.0, now - since)
    message = current.message if current and current.status == FAILING else ""
    if not message and failing:
        message = max(failing, key=lambda f: f[2].updated)[2].message
    return Seat(
        learner=learner_name(progress, fallback), lab=progress.current_lab, step=progress.current_step, status=status,
        attempts=current.attempts if current else 0, stuck_seconds=round(stuck, 1), message=message,
        passed_steps=sum(1 for _, _, sp in steps if sp.status == PASSED), updated=progress.updated,
        workspace=progress.workspace,
    )


def read_progress(folder: Path) -> list[tuple[str, Progress]]:
    """(entry name, progress) for every learner in ``folder``: progress files, or workspaces with progress."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder: pass the folder holding the progress files or workspaces")
    found = []
    for entry in sorted(folder.iterdir()):
        progress = None
        if entry.is_file() and entry.suffix == ".json" and ".damaged-" not in entry.name:
            try:
                progress = Progress.from_dict(json.loads(entry.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue  # being written, or not a progress file
        elif entry.is_dir() and not entry.name.startswith("."):
            store = ProgressStore(entry)
            if not store.path.exists():
                continue
            progress = store.load()
        if progress is not None:
            found.append((entry.name, progress))
    return found


def read_room(folder: Path, now: float | None = None) -> list[Seat]:
    """Every learner found in ``folder``, stuck longest first."""
    seats = [seat(progress, Path(name).stem, now) for name, progress in read_progress(folder)]
    seats.sort(key=lambda s: (-s.stuck_seconds, s.learner))
    return seats


def duration(seconds: float) -> str:
    if seconds <= 0:
        return "-"
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else (f"{minutes} min" if minutes else f"{int(seconds)} s")


def table(seats: list[Seat], width: int = 120) -> str:
    head = ["learner", "lab", "step", "status", "tries", "stuck for", "last failing message"]
    rows = [head] + [[s.learner, s.lab[:2] or "-", s.step or "-", s.status, str(s.attempts), duration(s.stuck_seconds),
                      s.message.replace("\n", " ")] for s in seats]
    return text_table(rows, width)


def to_json(seats: list[Seat]) -> str:
    return json.dumps({"learners": [asdict(s) for s in seats]}, indent=2)
