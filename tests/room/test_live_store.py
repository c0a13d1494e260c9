"""The room's store and its checks of events: each event id taken once, refusals with a reason and
nothing stored, names kept to their machine, a full disk said plainly (the learner keeps the events)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from workshop.core.outbox import Outbox, RoomEvent
from workshop.room.events import BODY_LIMIT, Batch, Refused, parse_batch
from workshop.room.store import RoomStore
from workshop.room.view import Fold, build, text

NOW = 1_800_000_000.0


def event(seq: int, learner: str = "ada", verdict: str = "failing", message: str = "sha256 does not match",
          step: str = "build", **extra: object) -> RoomEvent:
    return RoomEvent(id=uuid.uuid4().hex, seq=seq, learner=learner, lab="04-oci-image", step=step, verdict=verdict,
                     message=message if verdict == "failing" else "", duration=1.5, attempt=seq, hints=0,
                     version="0.1.0", at=NOW - 10, **extra)  # type: ignore[arg-type]


def body(*events: RoomEvent, sent: float = NOW) -> bytes:
    return json.dumps({"events": [e.to_dict() for e in events], "sent": sent}).encode()


@pytest.fixture
def store(tmp_path: Path) -> RoomStore:
    return RoomStore(tmp_path / "events.sqlite")


def test_an_event_sent_again_is_taken_once(store: RoomStore) -> None:
    seat = store.take_seat("ada", "m" * 32)
    first = event(1)
    assert store.take(seat, parse_batch(body(first), "ada"), now=NOW).taken == 1
    again = store.take(seat, parse_batch(body(first, event(2)), "ada"), now=NOW)
    assert (again.taken, again.duplicates, again.last_seq) == (1, 1, 2)
    assert store.count_events() == 2 and store.refusals["already taken"] == 1


def test_a_replayed_event_with_a_new_id_is_refused_and_nothing_is_stored(store: RoomStore) -> None:
    seat = store.take_seat("ada", "m" * 32)
    store.take(seat, parse_batch(body(event(1), event(2)), "ada"), now=NOW)
    with pytest.raises(Refused) as refused:
        store.take(seat, parse_batch(body(event(2), event(3)), "ada"), now=NOW)
    assert refused.value.status == 409 and "replayed" in refused.value.reason
    assert store.count_events() == 2  # not even event 3 of the refused batch


def test_the_events_survive_the_store_being_opened_again(tmp_path: Path) -> None:
    store = RoomStore(tmp_path / "events.sqlite")
    seat = store.take_seat("ada", "m" * 32)
    store.take(seat, parse_batch(body(event(1)), "ada"), now=NOW)
    store.count("bad signature")
    store.close()
    again = RoomStore(tmp_path / "events.sqlite")
    assert again.count_events() == 1 and again.refusals == {"bad signature": 1}
    assert again.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_name_stays_with_the_machine_that_took_it(store: RoomStore) -> None:
    seat = store.take_seat("ada", "a" * 32)
    assert store.take_seat("ada", "a" * 32).key == seat.key  # the same machine gets its seat back
    with pytest.raises(Refused) as refused:
        store.take_seat("ada", "b" * 32)
    assert refused.value.status == 409 and "taken by another machine" in refused.value.reason


@pytest.mark.parametrize(("raw", "status", "words"), [
    (b"not json", 400, "not JSON"),
    (b'{"events": []}', 400, "when it was sent"),
    (json.dumps({"events": [{"id": "x"}], "sent": NOW}).encode(), 400, "missing or of the wrong type"),
    (b"x" * (BODY_LIMIT + 1), 413, "at most"),
])
def test_malformed_or_oversized_requests_are_refused_with_a_reason(raw: bytes, status: int, words: str) -> None:
    with pytest.raises(Refused) as refused:
        parse_batch(raw, "ada")
    assert refused.value.status == status and words in refused.value.reason


def test_an_event_carries_nothing_else_and_only_its_own_name() -> None:
    extra = event(1).to_dict() | {"cwd": "/home/ada/secret"}
    with pytest.raises(Refused, match="also has cwd"):
        parse_batch(json.dumps({"events": [extra], "sent": NOW}).encode(), "ada")
    with pytest.raises(Refused, match="seat is 'ada'"):
        parse_batch(body(event(1, learner="bob")), "ada")
    big = event(1, message="m" * 5000)
    with pytest.raises(Refused) as refused:
        parse_batch(body(big), "ada")
    assert refused.value.status == 413


def test_a_wrong_clock_is_told_and_the_room_keeps_its_own_time(store: RoomStore) -> None:
    seat = store.take_seat("ada", "m" * 32)
    late = event(1)
    late.at = NOW + 3 * 3600 - 20  # the learner's clock is three hours ahead; the check ended 20 s before sending
    taken = store.take(seat, Batch([late], sent=NOW + 3 * 3600), now=NOW)
    assert "180 min ahead of the room's" in taken.clock
    assert abs(store.events_after(0)[0].at_room - (NOW - 20)) < 0.01


def test_a_full_disk_refuses_the_batch_and_stores_nothing(tmp_path: Path) -> None:
    store = RoomStore(tmp_path / "events.sqlite", max_pages=12)
    seat = store.take_seat("ada", "m" * 32)
    refused = None
    for n in range(1, 200):
        try:
            store.take(seat, parse_batch(body(event(n, message="x" * 900)), "ada"), now=NOW)
        except Refused as exc:
            refused = exc
            break
    assert refused is not None and refused.status == 507 and "outbox" in refused.reason
    kept = store.count_events()
    assert [e.event.seq for e in store.events_after(0)] == list(range(1, kept + 1))  # nothing half-stored


def test_the_outbox_keeps_order_and_forgets_only_what_the_room_confirmed(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    made = outbox.add([{"learner": "ada", "lab": "01-tiny", "step": "one", "verdict": "failing", "message": "m"}] * 3)
    assert [e.seq for e in made] == [1, 2, 3] and [e.seq for e in outbox.pending()] == [1, 2, 3]
    outbox.confirm(2)
    assert [e.seq for e in outbox.pending()] == [3]
    outbox.confirm(3)
    assert outbox.pending() == [] and outbox.path.read_text() == ""
    assert [e.seq for e in outbox.add([{"learner": "ada", "lab": "l", "step": "s", "verdict": "passed"}])] == [4]


def test_the_view_groups_learners_failing_the_same_way(store: RoomStore) -> None:
    for name in ("ada", "bob", "cy"):
        seat = store.take_seat(name, name * 16)
        store.take(seat, parse_batch(body(event(1, learner=name)), name), now=NOW)
    dee = store.take_seat("dee", "d" * 32)
    store.take(dee, parse_batch(body(event(1, learner="dee", verdict="passed")), "dee"), now=NOW)
    fold = Fold()
    fold.update(store)
    view = build(fold, None, store.refusals, now=NOW + 60)
    assert view["groups"] == [{"lab": "04-oci-image", "step": "build", "message": "sha256 does not match", "count": 3,
                               "learners": ["ada", "bob", "cy"]}]
    assert {r["learner"]: r["status"] for r in view["learners"]} == {"ada": "failing", "bob": "failing", "cy": "failing",
                                                                      "dee": "passed"}
    assert view["steps"] == [{"lab": "04-oci-image", "step": "build", "passed": 1, "failing": 3}]
    assert "3 learners: sha256 does not match" in text(view)


def test_the_view_names_late_joiners_and_learners_gone_quiet(store: RoomStore) -> None:
    first = store.take_seat("ada", "a" * 32)
    store.take(first, parse_batch(body(event(1)), "ada"), now=NOW)
    store.take_seat("bob", "b" * 32)
    store.db.execute("UPDATE seats SET joined = ? WHERE name = 'ada'", (NOW - 3600,))
    store.db.execute("UPDATE seats SET joined = ? WHERE name = 'bob'", (NOW - 60,))
    fold = Fold()
    fold.update(store)
    view = build(fold, None, {}, now=NOW + 20 * 60)
    rows = {r["learner"]: r for r in view["learners"]}
    assert rows["bob"]["late"] and not rows["ada"]["late"]  # bob came 59 minutes after ada
    assert rows["ada"]["quiet"] and rows["bob"]["quiet"]  # no check for 20 minutes
    assert rows["bob"]["status"] == "not started" and rows["bob"]["checks"] == 0
    shown = text(view)
    assert "Joined late (15+ min after the first): bob" in shown and "Quiet (no check for 10+ min): ada, bob" in shown


def test_a_line_torn_by_a_killed_writer_costs_no_later_event(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    outbox.add([{"learner": "ada", "lab": "l", "step": "s", "verdict": "passed"}])
    with open(outbox.path, "a") as f:
        f.write('{"id": "torn')  # a check killed in the middle of writing its event
    made = outbox.add([{"learner": "ada", "lab": "l", "step": "s", "verdict": "failing"}])
    assert [e.seq for e in outbox.pending()] == [1, made[0].seq] and made[0].seq == 2
