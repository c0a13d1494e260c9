"""The learner's progress: per workspace, per lab and step, written atomically.

One JSON file per workspace under the state folder. Every change is a locked
read-modify-write, so the TUI's watch mode and a CLI run can update it together.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from workshop.core.atomic import write_atomic
from workshop.core.locations import state_dir
from workshop.core.verdict import FAILING, NOT_STARTED, PASSED

__all__ = ["FAILING", "NOT_STARTED", "PASSED", "Progress", "ProgressStore", "StepProgress"]


@dataclass
class StepProgress:
    status: str = NOT_STARTED
    updated: float = 0.0
    attempts: int = 0
    hints_shown: int = 0
    message: str = ""  # the last failing check's message, for the instructor's room view
    checks: dict[str, str] = field(default_factory=dict)  # check name -> last outcome


@dataclass
class Progress:
    workspace: str
    current_lab: str = ""
    current_step: str = ""
    labs: dict[str, dict[str, StepProgress]] = field(default_factory=dict)
    updated: float = 0.0

    def step(self, lab: str, step: str) -> StepProgress:
        return self.labs.setdefault(lab, {}).setdefault(step, StepProgress())

    def status(self, lab: str, step: str) -> str:
        return self.labs.get(lab, {}).get(step, StepProgress()).status

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> Progress:
        labs = {
            lab: {step: StepProgress(**sp) for step, sp in steps.items()}
            for lab, steps in data.get("labs", {}).items()
        }
        return cls(
            workspace=data["workspace"],
            current_lab=data.get("current_lab", ""),
            current_step=data.get("current_step", ""),
            labs=labs,
            updated=data.get("updated", 0.0),
        )


def renamed(progress: Progress, renames: dict[str, str]) -> bool:
    """Progress kept under a lab's old folder name, moved to its new one; True if anything moved."""
    moved = False
    for old, new in renames.items():
        if old in progress.labs and new not in progress.labs:
            progress.labs[new] = progress.labs.pop(old)
            moved = True
        if progress.current_lab == old:
            progress.current_lab, moved = new, True
    return moved


class ProgressStore:
    """Progress of one workspace, kept in the state folder."""

    def __init__(self, workspace: Path, root: Path | None = None) -> None:
        self.workspace = workspace.expanduser().resolve()
        key = hashlib.sha256(str(self.workspace).encode()).hexdigest()[:16]
        self.path = (root or state_dir() / "progress") / f"{key}.json"

    def load(self) -> Progress:
        try:
            return Progress.from_dict(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return Progress(workspace=str(self.workspace))
        except (ValueError, KeyError, TypeError):
            # A file damaged by hand: keep it aside rather than lose it, and start afresh.
            self.path.replace(self.path.with_suffix(f".damaged-{int(time.time())}.json"))
            return Progress(workspace=str(self.workspace))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def update(self, change: Callable[[Progress], None]) -> Progress:
        with self._locked():
            progress = self.load()
            change(progress)
            progress.updated = time.time()
            write_atomic(self.path, progress.to_json())
            return progress
