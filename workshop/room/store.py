"""The room's memory: seats and events in SQLite (WAL, synced at every commit), one row per event id.

An event resent after a drop has the id of one already stored and is taken once. Refusals are
counted by kind (in memory and, while the disk takes it, in the database), never stored.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from workshop.core.outbox import RoomEvent
from workshop.room import signing
from workshop.room.events import Batch, Refused, clock_note

SCHEMA = """
CREATE TABLE IF NOT EXISTS seats (
  id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, machine TEXT NOT NULL, key TEXT NOT NULL,
  joined REAL NOT NULL, last_seq INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY, seat TEXT NOT NULL REFERENCES seats(id), seq INTEGER NOT NULL, learner TEXT NOT NULL,
  lab TEXT NOT NULL, step TEXT NOT NULL, verdict TEXT NOT NULL, message TEXT NOT NULL, duration REAL NOT NULL,
  attempt INTEGER NOT NULL, hints INTEGER NOT NULL, version TEXT NOT NULL, at REAL NOT NULL,
  at_room REAL NOT NULL, received REAL NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_seat ON events(seat, seq);
CREATE TABLE IF NOT EXISTS refusals (kind TEXT PRIMARY KEY, count INTEGER NOT NULL);
"""
COLUMNS = ("id", "seq", "learner", "lab", "step", "verdict", "message", "duration", "attempt", "hints", "version", "at")


@dataclass
class Seat:
    id: str
    name: str
    key: str
    joined: float
    last_seq: int = 0


@dataclass
class Taken:
    """What the room answers a batch: how many events were new, how many it already had, and a clock note."""

    taken: int
    duplicates: int
    last_seq: int
    clock: str = ""


@dataclass
class StoredEvent:
    """An event as the room keeps it: the learner's fields, the seat, and the room's own times."""

    rowid: int
    seat: str
    event: RoomEvent
    at_room: float  # when the check ended, on the room's clock
    received: float


def disk_full(exc: sqlite3.Error) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc).lower()


class RoomStore:
    """One SQLite file; every method is safe from any thread (one connection, one lock)."""

    def __init__(self, path: Path, max_pages: int | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.lock = threading.Lock()
        self.refusals: dict[str, int] = {}
        with self.lock:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")  # a commit is on disk before the learner hears "taken"
            self.db.execute("PRAGMA busy_timeout=5000")
            if max_pages:  # a room's cap on its database (also how tests make a full disk)
                self.db.execute(f"PRAGMA max_page_count={int(max_pages)}")
            self.db.executescript(SCHEMA)
            self.refusals = dict(self.db.execute("SELECT kind, count FROM refusals").fetchall())

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # ------------------------------------------------------------ seats

    def take_seat(self, name: str, machine_secret: str) -> Seat:
        """The seat for ``name``: a new one, or the same one again for the machine that took it."""
        print_ = signing.fingerprint(machine_secret)
        with self.lock:
            row = self.db.execute("SELECT id, name, key, joined, last_seq, machine FROM seats WHERE name = ?", (name,)).fetchone()
            if row:
                if not signing.same_secret(print_, row[5]):
                    raise Refused(409, "name taken", f"the name {name!r} is taken by another machine in this room: "
                                  "join with another name (your own, or add an initial)")
                return Seat(*row[:5])
            seat = Seat(signing.new_seat_id(), name, signing.new_key(), time.time())
            try:
                self.db.execute("INSERT INTO seats (id, name, machine, key, joined) VALUES (?, ?, ?, ?, ?)",
                                (seat.id, name, print_, seat.key, seat.joined))
            except sqlite3.Error as exc:
                raise self._refusal_for(exc) from None
            return seat

    def seat(self, seat_id: str) -> Seat | None:
        with self.lock:
            row = self.db.execute("SELECT id, name, key, joined, last_seq FROM seats WHERE id = ?", (seat_id,)).fetchone()
        return Seat(*row) if row else None

    def seats(self) -> list[Seat]:
        with self.lock:
            return [Seat(*r) for r in self.db.execute("SELECT id, name, key, joined, last_seq FROM seats ORDER BY joined")]

    # ------------------------------------------------------------ events

    def take(self, seat: Seat, batch: Batch, now: float | None = None) -> Taken:
        """Store the batch's new events in one transaction; the ones already stored are counted, not stored again.

        An event with a new id but a sequence number at or below the last one taken is a replay: the
        whole batch is refused (nothing stored).
        """
        now = time.time() if now is None else now
        with self.lock:
            last = self.db.execute("SELECT last_seq FROM seats WHERE id = ?", (seat.id,)).fetchone()[0]
            known = {r[0] for r in self.db.execute(
                f"SELECT id FROM events WHERE id IN ({','.join('?' * len(batch.events))})", [e.id for e in batch.events])}
            new = [e for e in batch.events if e.id not in known]
            for e in new:
                if e.seq <= last:
                    raise Refused(409, "replayed", f"event {e.id} comes after event {last} was taken, with number {e.seq}: "
                                  "a replayed or reordered event is not taken")
            try:
                self.db.execute("BEGIN IMMEDIATE")
                for e in new:
                    at_room = now - max(0.0, batch.sent - e.at)  # the learner's clock only measures the delay
                    self.db.execute(
                        f"INSERT INTO events ({', '.join(COLUMNS)}, seat, at_room, received) VALUES ({', '.join('?' * (len(COLUMNS) + 3))})",
                        (*[getattr(e, c) for c in COLUMNS], seat.id, at_room, now))
                if new:
                    last = max(last, new[-1].seq)
                    self.db.execute("UPDATE seats SET last_seq = ? WHERE id = ?", (last, seat.id))
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise self._refusal_for(exc) from None
        if len(new) < len(batch.events):
            self.count("already taken", len(batch.events) - len(new))
        return Taken(taken=len(new), duplicates=len(batch.events) - len(new), last_seq=last, clock=clock_note(batch.sent, now))

    def events_after(self, rowid: int) -> list[StoredEvent]:
        with self.lock:
            rows = self.db.execute(f"SELECT rowid, seat, {', '.join(COLUMNS)}, at_room, received FROM events "
                                   "WHERE rowid > ? ORDER BY rowid", (rowid,)).fetchall()
        return [StoredEvent(rowid=r[0], seat=r[1], event=RoomEvent(*r[2:2 + len(COLUMNS)]), at_room=r[-2], received=r[-1])
                for r in rows]

    def count_events(self) -> int:
        with self.lock:
            return self.db.execute("SELECT count(*) FROM events").fetchone()[0]

    # ------------------------------------------------------------ refusals

    def count(self, kind: str, n: int = 1) -> None:
        """Count a refusal (or a resent event); the count survives a restart while the disk takes it."""
        with self.lock:
            self.refusals[kind] = self.refusals.get(kind, 0) + n
            try:
                self.db.execute("INSERT INTO refusals (kind, count) VALUES (?, ?) ON CONFLICT(kind) DO UPDATE "
                                "SET count = excluded.count", (kind, self.refusals[kind]))
            except sqlite3.Error:
                pass  # a full disk: the count stays in memory

    def _refusal_for(self, exc: sqlite3.Error) -> Refused:
        if disk_full(exc):
            return Refused(507, "room disk full", "the room's disk is full, so nothing was taken: your events stay in "
                           "your outbox and are sent again once the instructor frees space")
        return Refused(503, "room storage", f"the room could not store the events ({exc}); they stay in your outbox")
