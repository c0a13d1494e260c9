"""The instructor's live view, from the room's events: each learner's lab and step, last failing message
and time stuck (the roster's own ``Seat``), a step-by-learner grid, learners grouped by the same
failing message, late joiners and learners gone quiet.

Events are folded into a ``Progress`` per learner, as the learner's own machine keeps it, so the live
view and the folder view (`workshop room DIR`) compute seats the same way.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

from workshop.core.content import Workshop
from workshop.core.progress import FAILING, NOT_STARTED, PASSED, Progress
from workshop.core.texttable import text_table
from workshop.room import roster
from workshop.room.store import RoomStore, Seat, StoredEvent

LATE = 15 * 60.0  # joined this long after the first learner: a late joiner (shown, to be caught up)
QUIET = 10 * 60.0  # no check for this long: gone quiet (stuck without asking, or away)


@dataclass
class Learner:
    """One seat and what its events add up to."""

    seat: Seat
    progress: Progress
    version: str = ""
    last_event: float = 0.0  # on the room's clock
    events: int = 0


@dataclass
class Fold:
    """Every seat's progress, kept up to date from the events stored after ``rowid``."""

    rowid: int = 0
    learners: dict[str, Learner] = field(default_factory=dict)

    def update(self, store: RoomStore) -> None:
        for seat in store.seats():
            known = self.learners.get(seat.id)
            if known is None:
                self.learners[seat.id] = Learner(seat, Progress(workspace=""))
            else:
                known.seat = seat
        for stored in store.events_after(self.rowid):
            self.add(stored)
            self.rowid = stored.rowid

    def add(self, stored: StoredEvent) -> None:
        learner = self.learners.get(stored.seat)
        if learner is None:
            return
        e = stored.event
        sp = learner.progress.step(e.lab, e.step)
        sp.status = PASSED if e.verdict == PASSED else FAILING
        sp.attempts = max(sp.attempts, e.attempt)
        sp.hints_shown = max(sp.hints_shown, e.hints)
        sp.message = e.message if e.verdict != PASSED else ""
        sp.updated = stored.at_room
        # Where the learner is: the first step of the lab that still fails (as a whole-lab check leaves them), else this one.
        failing = [sid for sid, other in learner.progress.labs[e.lab].items() if other.status == FAILING]
        learner.progress.current_lab = e.lab
        learner.progress.current_step = failing[0] if failing else e.step
        learner.progress.updated = max(learner.progress.updated, stored.at_room)
        learner.last_event = max(learner.last_event, stored.at_room)
        learner.version, learner.events = e.version, learner.events + 1


def steps_in_order(workshop: Workshop | None, learners: list[Learner]) -> list[tuple[str, str]]:
    """Every (lab, step) someone has checked, in the content's order (unknown ones after, as first seen)."""
    touched = {(lab, step) for x in learners for lab, steps in x.progress.labs.items() for step in steps}
    ordered = [(lab.slug, s.id) for lab in (workshop.labs if workshop else []) for s in lab.steps]
    labs = {lab for lab, _ in touched}
    known = [(lab, step) for lab, step in ordered if lab in labs]
    return known + sorted(touched - set(known))


def build(fold: Fold, workshop: Workshop | None, refusals: dict[str, int], now: float | None = None,
          late: float = LATE, quiet: float = QUIET, current_lab: str = "") -> dict:
    """The whole view as plain data (what `--json`, the TUI and the page read)."""
    now = time.time() if now is None else now
    learners = sorted(fold.learners.values(), key=lambda x: x.seat.joined)
    began = learners[0].seat.joined if learners else now
    rows = []
    for x in learners:
        s = roster.seat(x.progress, x.seat.name, now)
        if not x.events:
            s.status = NOT_STARTED
        labs = {lab: {sid: asdict(sp) for sid, sp in steps.items()} for lab, steps in x.progress.labs.items()}
        rows.append({**asdict(s), "labs": labs, "joined": x.seat.joined, "last_event": x.last_event or None,
                     "version": x.version, "checks": x.events,
                     "hints": sum(sp.hints_shown for steps in x.progress.labs.values() for sp in steps.values()),
                     "late": x.seat.joined - began > late,
                     "quiet": (now - (x.last_event or x.seat.joined)) > quiet and s.status != PASSED})
    rows.sort(key=lambda r: (-r["stuck_seconds"], r["learner"].lower()))
    # failing now is stuck, even in the second the check failed (its stuck time still rounds to 0)
    steps = steps_in_order(workshop, learners)
    grid = [{"learner": x.seat.name,
             "cells": [x.progress.status(lab, step) if lab in x.progress.labs else NOT_STARTED for lab, step in steps],
             "current": steps.index((x.progress.current_lab, x.progress.current_step))
             if (x.progress.current_lab, x.progress.current_step) in steps else None} for x in learners]
    counts = [{"lab": lab, "step": step,
               "passed": sum(1 for g in grid if g["cells"][i] == PASSED),
               "failing": sum(1 for g in grid if g["cells"][i] == FAILING)} for i, (lab, step) in enumerate(steps)]
    return {
        "room": {"now": now, "learners": len(rows), "stuck": sum(1 for r in rows if r["stuck_seconds"] > 0 or r["status"] == FAILING),
                 "events": sum(x.events for x in learners), "refused": dict(sorted(refusals.items())),
                 "lab": current_lab, "late_after_seconds": late, "quiet_after_seconds": quiet},
        "learners": rows,
        "groups": groups(rows),
        "steps": counts,
        "grid": grid,
    }


def groups(rows: list[dict]) -> list[dict]:
    """Learners failing the same step with the same message, most learners first: explain it once."""
    by: dict[tuple[str, str, str], list[str]] = {}
    for r in rows:
        if r["status"] == FAILING and r["message"]:
            by.setdefault((r["lab"], r["step"], " ".join(r["message"].split())), []).append(r["learner"])
    found = [{"lab": lab, "step": step, "message": msg, "count": len(names), "learners": sorted(names)}
             for (lab, step, msg), names in by.items()]
    return sorted(found, key=lambda g: (-g["count"], g["lab"], g["step"], g["message"]))


def to_json(view: dict) -> str:
    return json.dumps(view, indent=2)


def bar(done: int, total: int, width: int = 20) -> str:
    filled = round(width * done / total) if total else 0
    return "█" * filled + "░" * (width - filled)


MARK = {PASSED: "✓", FAILING: "✗", NOT_STARTED: "·"}


def text(view: dict, width: int = 120) -> str:
    """The view for a terminal: counts, the groups, the table, the grid, late and quiet learners."""
    r = view["room"]
    refused = sum(r["refused"].get(k, 0) for k in r["refused"] if k != "already taken")
    out = [f"{r['learners']} learner(s), {r['stuck']} stuck, {r['events']} check run(s)"
           + (f", on lab {r['lab']}" if r["lab"] else "") + (f", {refused} request(s) refused" if refused else "")]
    if view["groups"]:
        out += ["", "Failing the same way (explain once):"]
        for g in view["groups"]:
            names = ", ".join(g["learners"][:6]) + (", ..." if g["count"] > 6 else "")
            out.append(f"  {g['count']} learner{'s' if g['count'] != 1 else ''}: {g['message'][:width - 40]}"
                       f"  ({g['lab'][:2]}/{g['step']}: {names})")
    out += ["", roster.table([roster.Seat(**{k: v for k, v in x.items() if k in roster.Seat.__dataclass_fields__})
                            for x in view["learners"]], width)] if view["learners"] else ["", "nobody has joined yet"]
    if view["steps"]:
        total = r["learners"]
        out += ["", "Steps:"]
        for s in view["steps"]:
            out.append(f"  {s['lab'][:2]}/{s['step']:<18} {bar(s['passed'], total)} {s['passed']}/{total} passed"
                       + (f", {s['failing']} failing" if s["failing"] else ""))
        head = ["learner", *[f"{lab[:2]}/{step}"[:8] for lab, step in ((s["lab"], s["step"]) for s in view["steps"])]]
        rows = [head] + [[g["learner"], *[MARK.get(c, "?") for c in g["cells"]]] for g in view["grid"]]
        out += ["", text_table(rows, width)]
    late = [x["learner"] for x in view["learners"] if x["late"]]
    quiet = [x["learner"] for x in view["learners"] if x["quiet"]]
    if late:
        out += ["", f"Joined late ({r['late_after_seconds'] / 60:.0f}+ min after the first): {', '.join(late)}"]
    if quiet:
        out += ["", f"Quiet (no check for {r['quiet_after_seconds'] / 60:.0f}+ min): {', '.join(quiet)}"]
    return "\n".join(out)
