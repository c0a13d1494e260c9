"""The room's roster (`workshop room view DIR`): the learners' progress files read into seats, who is stuck longest first."""

from __future__ import annotations

import time
from pathlib import Path

from workshop.core.progress import FAILING, PASSED, Progress, StepProgress
from workshop.room import roster

LAB = "01-first-filter"


def _progress(ws: str, lab: str, step: str, steps: dict[str, StepProgress]) -> Progress:
    return Progress(workspace=ws, current_lab=lab, current_step=step, labs={lab: steps}, updated=time.time())


def test_the_room_puts_who_is_stuck_longest_first(tmp_path: Path) -> None:
    now = 10_000.0
    alice = _progress("/home/alice/wasm-workshop", LAB, "envoy", {
        "build": StepProgress(status=PASSED, updated=now - 1200),
        "envoy": StepProgress(status=FAILING, updated=now - 10, attempts=4, message="Envoy answered / with 503")})
    bob = _progress("/srv/class/bob", LAB, "test", {
        "build": StepProgress(status=PASSED, updated=now - 60),
        "test": StepProgress(status=FAILING, updated=now - 5, attempts=1, message="go test fails")})
    carol = _progress("/srv/class/carol", LAB, "envoy", {"envoy": StepProgress(status=PASSED, updated=now - 30)})
    for name, p in (("a", alice), ("b", bob), ("c", carol)):
        (tmp_path / f"{name}.json").write_text(p.to_json())
    (tmp_path / "half-written.json").write_text("{")
    seats = roster.read_room(tmp_path, now=now)
    assert [s.learner for s in seats] == ["alice", "bob", "carol"]
    assert (seats[0].stuck_seconds, seats[0].message, seats[0].attempts) == (1200, "Envoy answered / with 503", 4)
    assert seats[2].stuck_seconds == 0
    assert "20 min" in roster.table(seats)
