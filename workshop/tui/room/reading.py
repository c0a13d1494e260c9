"""What the instructor's screen shows, read from the room's folder in one pass (off the UI thread).

The table's rows are the core's own seats (``workshop.room.roster.seat``), read with the core's folder
rules (``roster.read_progress``); each keeps the progress it was computed from, so the details show the
same moment as the row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workshop.core.progress import Progress
from workshop.room import roster
from workshop.room.view import bar
from workshop.room.watching import LiveRoom


@dataclass
class Learner:
    """One row: a seat in the room and the progress it was computed from."""

    key: str  # the file or folder name in the room's folder: unique, stable across refreshes
    seat: roster.Seat
    progress: Progress


SORTS: dict[str, Callable[[Learner], tuple]] = {
    "stuck": lambda x: (-x.seat.stuck_seconds, x.seat.learner.lower(), x.key),
    "name": lambda x: (x.seat.learner.lower(), x.key),
    # learners who have not started a lab go last ("~" sorts after lab slugs)
    "lab": lambda x: (x.seat.lab or "~", -x.seat.stuck_seconds, x.seat.learner.lower(), x.key),
}
SORT_ORDER = ("stuck", "name", "lab")


class FolderReading:
    """A folder of progress files or workspaces (`workshop room view DIR --tui`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.name = folder.name or str(folder)
        self.notes: list[str] = []
        self.empty = f"no progress files or workspaces in {folder} yet"

    def read(self, now: float) -> list[Learner]:
        return read(self.folder, now)


class LiveReading:
    """The room this machine serves, read over HTTP (`workshop room view --tui`): the seats, and the
    groups of learners failing the same way, late joiners and quiet learners as notes."""

    def __init__(self, live: LiveRoom) -> None:
        self.live = live
        self.name = live.url
        self.notes: list[str] = []
        self.empty = "nobody has joined the room yet"

    def read(self, now: float) -> list[Learner]:
        data = self.live.view()
        self.notes = notes(data)
        found = []
        for row in data["learners"]:
            seat = roster.Seat(**{k: v for k, v in row.items() if k in roster.Seat.__dataclass_fields__})
            progress = Progress.from_dict({"workspace": "", "current_lab": row["lab"], "current_step": row["step"],
                                           "labs": row.get("labs", {})})
            found.append(Learner(row["learner"], seat, progress))
        return sorted(found, key=SORTS["stuck"])


def notes(data: dict) -> list[str]:
    """The lines above the table: who fails the same way (explain once), who joined late, who went quiet."""
    lines = [f"{g['count']} learner{'s' if g['count'] != 1 else ''}: {' '.join(g['message'].split())}  "
             f"({g['lab'][:2]}/{g['step']}: {', '.join(g['learners'][:5])}{', ...' if g['count'] > 5 else ''})"
             for g in data["groups"][:5]]
    total = data["room"]["learners"]
    lines += [f"{s['lab'][:2]}/{s['step']:<14} {bar(s['passed'], total, 24)} {s['passed']}/{total} passed"
              + (f", {s['failing']} failing" if s["failing"] else "") for s in data["steps"][-6:]]
    late = [x["learner"] for x in data["learners"] if x.get("late")]
    quiet = [x["learner"] for x in data["learners"] if x.get("quiet")]
    if late:
        lines.append(f"joined late: {', '.join(late)}")
    if quiet:
        lines.append(f"quiet: {', '.join(quiet)}")
    return lines


def read(folder: Path, now: float) -> list[Learner]:
    """Every learner found in ``folder``, stuck longest first. Raises FileNotFoundError without it."""
    learners = [Learner(name, roster.seat(progress, Path(name).stem, now), progress)
                for name, progress in roster.read_progress(folder)]
    return sorted(learners, key=SORTS["stuck"])
