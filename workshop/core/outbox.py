"""A joined learner's outbox: every check run, written to disk before anything is sent to the room.

``state_dir()/room/joined.json`` says which room the learner joined (written by `workshop join`);
``outbox.jsonl`` holds the events in order, one JSON line each, appended under a lock and synced to
disk; ``outbox.sent`` holds the sequence number of the last event the room confirmed. The sender
(``workshop.room.sender``, a process of its own) reads what is past that number and sends it; a
check never waits on the network, it only appends here.

An event carries only what the room shows: learner, lab, step, verdict, the check's message,
duration, attempt, hints used, the workshop's version (never code, paths or the environment).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from workshop.core.atomic import write_atomic
from workshop.core.locations import state_dir

MESSAGE_LIMIT = 1000  # characters of a check's message an event carries (the room refuses larger events)
SENT_FIELDS = ("learner", "lab", "step", "verdict", "message", "duration", "attempt", "hints", "version")


@dataclass
class RoomEvent:
    """One check run of one step, as the room receives it."""

    id: str
    seq: int  # this learner's order: the room takes a seat's events in it
    learner: str
    lab: str
    step: str
    verdict: str  # "passed" or "failing"
    message: str = ""  # the first failing check's message
    duration: float = 0.0  # seconds the checks of the step took
    attempt: int = 1  # how many times the learner has checked this step
    hints: int = 0  # hints shown for this step so far
    version: str = ""  # the workshop's version
    at: float = 0.0  # the learner's clock when the check ended (the room keeps its own time too)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RoomEvent:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def room_dir() -> Path:
    return state_dir() / "room"


def joined_path() -> Path:
    return room_dir() / "joined.json"


def joined() -> dict | None:
    """The room this learner joined (url, token, name, seat id and key), or None when not joined."""
    try:
        data = json.loads(joined_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("url") and data.get("seat_key") else None


class Outbox:
    """The events waiting for the room, in order, and how far the room has confirmed them."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or room_dir()
        self.path = self.folder / "outbox.jsonl"
        self.sent_path = self.folder / "outbox.sent"

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "outbox.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def sent(self) -> int:
        """The last sequence number the room confirmed (0: none)."""
        try:
            return int(self.sent_path.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _lines(self) -> list[RoomEvent]:
        events = []
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        for line in text.splitlines():
            try:
                events.append(RoomEvent.from_dict(json.loads(line)))
            except (ValueError, TypeError):
                continue  # a line torn by a crash mid-write: it was never confirmed written, so never counted
        return events

    def add(self, steps: list[dict], floor: int = 0) -> list[RoomEvent]:
        """Append one event per dict (the fields of SENT_FIELDS) with the next ids; synced before returning."""
        with self.locked():
            events = self._lines()
            seq = max([e.seq for e in events] + [self.sent(), floor])
            made = []
            for step in steps:
                seq += 1
                body = {k: step[k] for k in SENT_FIELDS if k in step}
                body["message"] = str(body.get("message", ""))[:MESSAGE_LIMIT]
                made.append(RoomEvent(id=uuid.uuid4().hex, seq=seq, at=round(time.time(), 3), **body))
            torn = self._torn()
            with open(self.path, "a", encoding="utf-8") as f:
                if torn:
                    f.write("\n")  # a line torn by a writer killed mid-line ends here: the next one stays whole
                for e in made:
                    f.write(json.dumps(e.to_dict(), sort_keys=True) + "\n")
                f.flush()
                os.fsync(f.fileno())
            return made

    def _torn(self) -> bool:
        """Whether the file ends in the middle of a line."""
        try:
            with open(self.path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                return f.read(1) != b"\n"
        except OSError:  # no file, or an empty one
            return False

    def pending(self, limit: int = 200) -> list[RoomEvent]:
        """The events not yet confirmed, oldest first (at most ``limit``)."""
        done = self.sent()
        return [e for e in self._lines() if e.seq > done][:limit]

    def confirm(self, seq: int) -> None:
        """The room has every event up to ``seq``: remember it; empty the file once all is confirmed."""
        with self.locked():
            if seq <= self.sent():
                return
            write_atomic(self.sent_path, str(seq))
            events = self._lines()
            if events and max(e.seq for e in events) <= seq:
                write_atomic(self.path, "")
