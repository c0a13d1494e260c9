"""A learner takes a seat in the room they join: the room gives a seat key for the name, once the token
is accepted. The same machine joining again gets its seat (and its events' numbering) back; another
machine cannot take the name.

A machine is known by a secret made once in its state folder (never sent in the clear to anyone but
the room, which keeps only its hash).
"""

from __future__ import annotations

import json
import secrets

from workshop.core.atomic import kept_secret
from workshop.core.outbox import Outbox, joined, room_dir
from workshop.env import http
from workshop.room import auth
from workshop.room.home import RoomError

WHAT_IS_SENT = ("Every check you run is sent to the room: your name, the lab, the step, passed or failing, the "
                "check's message, how long it took, the attempt, the hints you used and the workshop's version. "
                "Nothing else of this machine is sent (no code, no paths, no environment).")


def machine_secret() -> str:
    """This machine's secret for rooms (this state folder's, made once, 0600)."""
    return kept_secret(room_dir() / "machine", lambda: secrets.token_hex(24))


def take_seat(url: str, token: str, name: str, timeout: float = 10.0) -> dict:
    """The seat (``seat_id``, ``seat_key``, ``seq_floor``) to keep in joined.json; RoomError with the room's reason."""
    body = json.dumps({"name": name, "machine": machine_secret()}).encode()
    try:
        resp = http.request(url.rstrip("/") + "/room/seats", "POST", body=body, timeout=timeout,
                            headers={"Content-Type": "application/json", "Authorization": auth.header(token, name)})
    except http.NoResponse as exc:
        raise RoomError(f"the room at {url} does not answer: {exc}", "check the address the instructor shows, "
                        "and that you are on the room's network") from None
    if resp.status == 401:
        raise RoomError("the room refused the token", "copy the token again from the instructor's screen "
                        "(it changes when the instructor makes a new one)")
    try:
        data = json.loads(resp.body)
    except ValueError:
        data = {}
    if resp.status != 200:
        raise RoomError(f"the room did not give you a seat: {data.get('refused') or f'HTTP {resp.status}'}",
                        "choose another name with --name" if resp.status == 409 else "")
    return {"seat_id": data["seat_id"], "seat_key": data["seat_key"], "seq_floor": int(data.get("last_seq", 0))}


def start_afresh_if_moved(seat: dict) -> None:
    """Joining another room (or as another name) keeps the old room's unsent events aside, never sends them here."""
    before = joined()
    if before is None or before.get("seat_id") in (None, seat["seat_id"]):
        return
    outbox = Outbox()
    with outbox.locked():
        if outbox.path.exists():
            outbox.path.replace(outbox.folder / f"outbox.{before['seat_id']}.jsonl")
        outbox.sent_path.unlink(missing_ok=True)
