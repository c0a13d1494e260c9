"""What the instructor's screen shows, read from the room's folder in one pass (off the UI thread).

The table's rows are the core's own seats (``workshop.grading.room.seat``), read with the core's folder
rules (``room.read_progress``); each keeps the progress it was computed from, so the details show the
same moment as the row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workshop.core.progress import Progress
from workshop.grading import room


@dataclass
class Learner:
    """One row: a seat in the room and the progress it was computed from."""

    key: str  # the file or folder name in the room's folder: unique, stable across refreshes
    seat: room.Seat
    progress: Progress


SORTS: dict[str, Callable[[Learner], tuple]] = {
    "stuck": lambda x: (-x.seat.stuck_seconds, x.seat.learner.lower(), x.key),
    "name": lambda x: (x.seat.learner.lower(), x.key),
    # learners who have not started a lab go last ("~" sorts after lab slugs)
    "lab": lambda x: (x.seat.lab or "~", -x.seat.stuck_seconds, x.seat.learner.lower(), x.key),
}
SORT_ORDER = ("stuck", "name", "lab")


def read(folder: Path, now: float) -> list[Learner]:
    """Every learner found in ``folder``, stuck longest first. Raises FileNotFoundError without it."""
    learners = [Learner(name, room.seat(progress, Path(name).stem, now), progress)
                for name, progress in room.read_progress(folder)]
    return sorted(learners, key=SORTS["stuck"])
