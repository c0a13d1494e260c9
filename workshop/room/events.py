"""What the room accepts from a learner: a batch of events, each checked field by field before it is stored.

Every refusal is one sentence that says what was wrong; the room counts refusals by kind and stores
nothing of a refused request.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from workshop.core.outbox import MESSAGE_LIMIT, RoomEvent
from workshop.core.progress import FAILING, PASSED

BODY_LIMIT = 256 * 1024  # bytes of one request: a batch of events
EVENT_LIMIT = 4 * 1024  # bytes of one event as JSON
BATCH_LIMIT = 200  # events in one request
CLOCK_SKEW = 300.0  # seconds between the learner's clock and the room's before the learner is told
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,63}$")
SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
ID = re.compile(r"^[0-9a-f]{32}$")


class Refused(Exception):
    """A request the room does not take: ``status`` is the HTTP status, ``kind`` what the count is kept under."""

    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.kind, self.reason = status, kind, reason


@dataclass
class Batch:
    events: list[RoomEvent]
    sent: float  # the learner's clock when the batch was sent


def _fail(reason: str) -> Refused:
    return Refused(400, "malformed", reason)


def parse_batch(body: bytes, learner: str) -> Batch:
    """The events of a signed request, checked; raises Refused with the first thing wrong."""
    if len(body) > BODY_LIMIT:
        raise Refused(413, "oversized", f"the request is {len(body)} bytes; the room takes at most {BODY_LIMIT}")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _fail("the request is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise _fail('the request must be a JSON object with a list "events"')
    sent = data.get("sent")
    if not isinstance(sent, (int, float)) or isinstance(sent, bool):
        raise _fail('the request must say when it was sent ("sent", seconds since 1970)')
    if not 0 < len(data["events"]) <= BATCH_LIMIT:
        raise _fail(f"a request carries 1 to {BATCH_LIMIT} events, not {len(data['events'])}")
    events = [parse_event(raw, learner) for raw in data["events"]]
    seqs = [e.seq for e in events]
    if seqs != sorted(set(seqs)):
        raise _fail("the events of a request must be in order, each sequence number once")
    return Batch(events=events, sent=float(sent))


def parse_event(raw: object, learner: str) -> RoomEvent:
    if not isinstance(raw, dict):
        raise _fail("an event must be a JSON object")
    size = len(json.dumps(raw))
    if size > EVENT_LIMIT:
        raise Refused(413, "oversized", f"event {str(raw.get('id'))[:40]} is {size} bytes; the room takes at most {EVENT_LIMIT}")
    expected = {f: t for f, t in (("id", str), ("seq", int), ("learner", str), ("lab", str), ("step", str),
                                  ("verdict", str), ("message", str), ("duration", (int, float)), ("attempt", int),
                                  ("hints", int), ("version", str), ("at", (int, float)))}
    extra = set(raw) - set(expected)
    if extra:
        raise _fail(f"an event carries only {', '.join(expected)}; this one also has {', '.join(sorted(extra))}")
    for name, kind in expected.items():
        if name not in raw or not isinstance(raw[name], kind) or isinstance(raw[name], bool):
            raise _fail(f"an event's {name!r} is missing or of the wrong type")
    event = RoomEvent.from_dict(raw)
    if not ID.match(event.id):
        raise _fail("an event's id must be 32 hexadecimal digits")
    if event.seq < 1 or event.attempt < 0 or event.hints < 0 or event.duration < 0:
        raise _fail("an event's seq, attempt, hints and duration cannot be negative")
    if event.learner != learner:
        raise Refused(403, "not their seat", f"event {event.id} names {event.learner!r}, but the seat is {learner!r}'s")
    if not SLUG.match(event.lab) or not SLUG.match(event.step):
        raise _fail("an event's lab and step are names of letters, digits, '.', '_' and '-'")
    if event.verdict not in (PASSED, FAILING):
        raise _fail(f"an event's verdict is {PASSED!r} or {FAILING!r}, not {event.verdict[:20]!r}")
    if len(event.message) > MESSAGE_LIMIT or len(event.version) > 40:
        raise Refused(413, "oversized", f"an event's message is at most {MESSAGE_LIMIT} characters")
    return event


def clock_note(sent: float, now: float) -> str:
    """What to tell a learner whose clock is off (the room keeps its own time for their events)."""
    skew = sent - now
    if abs(skew) <= CLOCK_SKEW:
        return ""
    way = "ahead of" if skew > 0 else "behind"
    return (f"your clock is {abs(skew) / 60:.0f} min {way} the room's; the room used its own time for these events "
            "(set your clock to the network's time to see the right times)")
