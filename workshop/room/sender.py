"""The learner's sender: reads the outbox, signs each batch with the seat key, sends in order, and sends
again after a drop (the room restarted, the Wi-Fi gone, the laptop asleep), until the room confirms.

A process of its own (`python -m workshop.room.sender`), started by the first check run after a join
(``workshop.runs.room_events``) through the supervisor; one at a time (it holds a lock); it ends once
the outbox has stayed empty for a while, and the next check starts it again.
"""

from __future__ import annotations

import fcntl
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from workshop.core import waiting
from workshop.core.atomic import write_atomic
from workshop.core.outbox import Outbox, RoomEvent, joined, room_dir
from workshop.env import http
from workshop.room import auth, signing

BATCH = 100
IDLE = 120.0  # seconds with nothing to send before the sender ends
BACKOFF = (0.1, 0.25, 0.5, 1.0, 2.0)  # seconds between tries while the room does not answer
LOOK = 0.05  # seconds between looks at the outbox while idle


@dataclass
class Answer:
    status: int  # 0: no answer at all
    body: dict

    @property
    def reason(self) -> str:
        return str(self.body.get("refused") or self.body.get("error") or f"HTTP {self.status}")


def post(url: str, token: str, seat_id: str, key: str, events: list[RoomEvent], timeout: float = 10.0) -> Answer:
    """One signed batch; the room's answer (status 0 when it cannot be reached)."""
    body = json.dumps({"events": [e.to_dict() for e in events], "sent": time.time()}, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "Authorization": auth.header(token, "learner"),
               signing.SEAT_HEADER: seat_id, signing.SIGNATURE_HEADER: signing.sign(key, body)}
    try:
        resp = http.request(url.rstrip("/") + "/room/events", "POST", headers=headers, body=body, timeout=timeout)
    except (http.NoResponse, OSError) as exc:
        return Answer(0, {"error": str(exc)})
    found = _json(resp.body)
    if resp.status == 401 and not found:
        found = {"error": "the room does not know the token: the instructor made a new one; join again "
                 "(`workshop join URL --token NEW --name NAME`); your events wait in the outbox"}
    return Answer(resp.status, found)


def _json(raw: bytes) -> dict:
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def status_path() -> Path:
    return room_dir() / "sender.status"


def say(state: str, note: str = "", waiting: int = 0) -> None:
    """What the sender is doing, for `workshop join --status` and the learner's screens."""
    write_atomic(status_path(), json.dumps({"state": state, "note": note, "waiting": waiting, "at": time.time()}))
    if note:
        print(f"{time.strftime('%H:%M:%S')} {state}: {note}", flush=True)


def set_aside(outbox: Outbox, event: RoomEvent, reason: str) -> None:
    """An event the room refuses for what it is (never for the network): kept beside the outbox, not resent."""
    with open(outbox.folder / "refused.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"event": event.to_dict(), "reason": reason}) + "\n")
    outbox.confirm(event.seq)


def send_once(outbox: Outbox, room: dict, batch: int = BATCH) -> tuple[bool, int]:
    """Send what waits, one batch; (whether the room answered, how many are still waiting)."""
    pending = outbox.pending(batch)
    if not pending:
        return True, 0
    answer = post(room["url"], room.get("token", ""), room["seat_id"], room["seat_key"], pending)
    if answer.status == 200:
        outbox.confirm(pending[-1].seq)
        if answer.body.get("clock"):
            say("sent", answer.body["clock"])
        return True, len(outbox.pending(batch))
    if answer.status in (400, 409, 413) and answer.body.get("refused"):
        if len(pending) > 1:  # find the one it refuses: send one at a time
            return send_once(outbox, room, batch=1)
        set_aside(outbox, pending[0], answer.reason)
        say("refused", f"the room refused event {pending[0].seq}: {answer.reason}")
        return True, len(outbox.pending(batch))
    say("waiting", f"the room did not take {len(pending)} event(s): {answer.reason}; they stay in the outbox",
        len(pending))
    return False, len(pending)


def run(idle: float = IDLE) -> int:
    outbox = Outbox()
    outbox.folder.mkdir(parents=True, exist_ok=True)
    with open(outbox.folder / "sender.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # another sender works on this outbox
        tries, quiet_since = 0, time.monotonic()
        while True:
            room = joined()
            if room is None or not room.get("seat_id"):
                return 0
            answered, unsent = send_once(outbox, room)
            if not answered:
                time.sleep(BACKOFF[min(tries, len(BACKOFF) - 1)])
                tries += 1
                continue
            if tries:
                say("sent", "the room answers again: every waiting event is sent")
            tries = 0
            if unsent:
                continue
            if time.monotonic() - quiet_since > idle and not outbox.pending(1):
                return 0
            if not _wait_for_more(outbox, min(idle, 5.0)):
                continue
            quiet_since = time.monotonic()


def _wait_for_more(outbox: Outbox, seconds: float) -> bool:
    """Look at the outbox until it grows or ``seconds`` pass; whether it grew."""
    def size() -> int:
        try:
            return outbox.path.stat().st_size
        except FileNotFoundError:
            return 0

    start = size()
    return waiting.until(size, lambda now: now != start, timeout=seconds, every=LOOK).ready or bool(outbox.pending(1))


def main(argv: list[str] | None = None) -> int:
    idle = float((argv or sys.argv[1:] or [IDLE])[0])
    return run(idle)


if __name__ == "__main__":
    sys.exit(main())
