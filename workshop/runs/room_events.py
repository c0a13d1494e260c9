"""What every check run does when the learner has joined a room: one event per step checked, written
to the outbox on disk, and the room's sender started if it is not running. Never waits on the network.

The sender (``workshop.room.sender``) lives in the room's layer above; it is started here as a
process of its own through the supervisor, so it keeps sending after a drop even when no more checks run.
"""

from __future__ import annotations

import contextlib
import json
import sys

from workshop import __version__
from workshop.core.content import Lab
from workshop.core.outbox import Outbox, joined, room_dir
from workshop.core.progress import FAILING, PASSED, Progress
from workshop.core.verdict import Verdict
from workshop.env import supervisor

SENDER_ROLE = "room:sender"


def report(lab: Lab, verdicts: list[Verdict], progress: Progress) -> None:
    """Append this run's events when joined (nothing otherwise); start the sender. Never raises for the disk."""
    room = joined()
    if room is None or not verdicts:
        return
    by_step: dict[str, list[Verdict]] = {}
    for v in verdicts:
        by_step.setdefault(v.step, []).append(v)
    steps = []
    for step_id, vs in by_step.items():
        sp = progress.step(lab.slug, step_id)
        failing = [v for v in vs if not v.passed]
        steps.append({
            "learner": room.get("name", ""), "lab": lab.slug, "step": step_id,
            "verdict": FAILING if failing else PASSED, "message": failing[0].message if failing else "",
            "duration": round(sum(v.seconds for v in vs), 3), "attempt": sp.attempts, "hints": sp.hints_shown,
            "version": __version__,
        })
    with contextlib.suppress(OSError):  # a full disk on the learner's side costs the event, never the check
        Outbox().add(steps, floor=int(room.get("seq_floor", 0) or 0))
        start_sender()


def resume() -> None:
    """After a restart (a laptop rebooted with checks still waiting): start the sender again. Cheap when
    nothing waits: two small files read."""
    if joined() is None or not Outbox().pending(1):
        return
    with contextlib.suppress(OSError):
        start_sender()


def sender_running() -> bool:
    return any(supervisor.alive(c) for c in supervisor.children(SENDER_ROLE))


def start_sender() -> None:
    """Start the sender unless one runs (it also refuses to run twice: it holds a lock while it works)."""
    if sender_running():
        return
    log = room_dir() / "sender.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        supervisor.spawn([sys.executable, "-m", "workshop.room.sender"], label="room sender", stdout=out,
                         detached=True, role=SENDER_ROLE, log=log)


def waiting_note() -> str:
    """One line for the learner when the room has not confirmed their checks (say, the Wi-Fi dropped); else ""."""
    if joined() is None:
        return ""
    try:
        status = json.loads((room_dir() / "sender.status").read_text())
    except (OSError, ValueError):
        return ""
    waiting = len(Outbox().pending())
    if status.get("state") not in ("waiting", "refused") or not waiting:
        return ""
    return (f"The room has not taken {waiting} of your check(s) yet ({status.get('note', '')}); they are kept on this "
            "machine and sent as soon as it answers: nothing to do.")
