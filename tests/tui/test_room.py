"""The instructor's room screen: learners stuck longest first, live refreshes, details, one snapshot.

The progress files are written by the core's own ProgressStore; times are fixed (a fixed clock for the
screen, fixed step times in the files), so durations like "50 min" never vary between runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual.widgets import DataTable

from tests.tui.conftest import wait_for
from workshop.core.progress import FAILING, PASSED, Progress, ProgressStore
from workshop.tui.room import RoomApp
from workshop.tui.room.details import LearnerDetails

NOW = 1_750_000_000.0  # the screen's clock in every test
LAB = "01-first-filter"
ALICE_MESSAGE = ("envoy answered 503 instead of 200 on GET /\n"
                 "the filter did not load: wasm log says [proxy_on_vm_start] failed (see `workshop logs envoy`)")


def _step(store: ProgressStore, step: str, status: str, at: float, message: str = "", current: bool = True,
          attempts: int = 1) -> None:
    def change(p: Progress) -> None:
        sp = p.step(LAB, step)
        sp.status, sp.updated, sp.message, sp.attempts = status, at, message, sp.attempts + attempts
        if current:
            p.current_lab, p.current_step = LAB, step

    store.update(change)


def make_room(tmp_path: Path) -> tuple[Path, dict[str, ProgressStore]]:
    """Four learners' progress files in one folder, as an instructor copies them from each machine."""
    folder = tmp_path / "room"
    stores = {name: ProgressStore(tmp_path / "learners" / name, root=folder) for name in ("alice", "bob", "carol", "dave")}
    # alice passed `build` 50 minutes ago and has failed `deploy` three times since
    _step(stores["alice"], "build", PASSED, NOW - 3000, attempts=2)
    _step(stores["alice"], "deploy", FAILING, NOW - 60, ALICE_MESSAGE, attempts=3)
    # bob never passed a step: stuck since his first try, 10 minutes ago
    _step(stores["bob"], "build", FAILING, NOW - 600, "go build failed: main.go:12: undefined: proxywasm")
    # carol passed both steps; dave has only opened the lab
    _step(stores["carol"], "build", PASSED, NOW - 900)
    _step(stores["carol"], "deploy", PASSED, NOW - 300)

    def opened(p: Progress) -> None:
        p.current_lab, p.current_step = LAB, "build"

    stores["dave"].update(opened)
    return folder, stores


def make_app(folder: Path, interval: float = 0.2) -> RoomApp:
    return RoomApp(folder, interval=interval, clock=lambda: NOW)


def column(app: RoomApp, key: str) -> list[str]:
    table = app.screen.query_one(DataTable)
    return [str(table.get_cell(row, key)) for row in table.rows]


def has_rows(app: RoomApp, n: int) -> Callable[[], bool]:
    return lambda: app.screen.query_one(DataTable).row_count == n


def details_text(app: RoomApp) -> str:
    rendered = app.screen.query_one(LearnerDetails).render()
    return rendered.plain if isinstance(rendered, Text) else str(rendered)


async def test_the_table_shows_the_room_stuck_longest_first(tmp_path: Path) -> None:
    folder, _ = make_room(tmp_path)
    app = make_app(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, has_rows(app, 4))
        assert column(app, "learner") == ["alice", "bob", "carol", "dave"]
        assert column(app, "stuck") == ["50 min", "10 min", "-", "-"]
        assert column(app, "status") == ["failing", "failing", "passed", "not started"]
        assert column(app, "step") == ["deploy", "build", "deploy", "build"]
        assert column(app, "message")[0].startswith("envoy answered 503 instead of")
        assert column(app, "message")[0].endswith("…")  # cut to the 80 columns; the details show it whole

        await pilot.press("s")  # by name
        await pilot.press("s")  # by lab: all on lab 01, stuck first within it
        assert column(app, "learner") == ["alice", "bob", "carol", "dave"]
        await pilot.press("s")  # back to stuck
        assert "sorted by stuck" in str(app.screen.query_one("#summary").render())


async def test_sort_by_name_keeps_the_cursor_on_the_same_learner(tmp_path: Path) -> None:
    folder, stores = make_room(tmp_path)
    stores["zoe"] = ProgressStore(tmp_path / "learners" / "zoe", root=folder)
    _step(stores["zoe"], "build", FAILING, NOW - 7200, "nothing listens on :10000")
    app = make_app(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, has_rows(app, 5))
        assert column(app, "learner")[0] == "zoe"
        assert column(app, "stuck")[0] == "2 h 00 min"
        await pilot.press("down")  # alice
        await pilot.press("s")
        assert column(app, "learner") == ["alice", "bob", "carol", "dave", "zoe"]
        assert details_text(app).startswith("alice")


async def test_a_learner_passing_a_step_shows_on_the_next_refresh(tmp_path: Path) -> None:
    folder, stores = make_room(tmp_path)
    app = make_app(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, has_rows(app, 4))
        assert column(app, "status")[1] == "failing"
        _step(stores["bob"], "build", PASSED, NOW - 5)
        await wait_for(pilot, lambda: column(app, "status")[column(app, "learner").index("bob")] == "passed", timeout=10)
        assert column(app, "learner")[0] == "alice"
        assert column(app, "stuck")[column(app, "learner").index("bob")] == "-"
        # and a new learner appears too
        _step(ProgressStore(tmp_path / "learners" / "erin", root=folder), "build", FAILING, NOW - 1800, "no main.go")
        await wait_for(pilot, has_rows(app, 5), timeout=10)
        assert column(app, "learner")[:3] == ["alice", "erin", "bob"]  # 30 min: between alice and bob


async def test_selecting_a_row_shows_the_whole_message_and_the_steps(tmp_path: Path) -> None:
    folder, _ = make_room(tmp_path)
    app = make_app(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, has_rows(app, 4))
        text = details_text(app)  # the first row is highlighted from the start
        assert "alice" in text and "stuck for 50 min" in text
        assert "[proxy_on_vm_start] failed (see `workshop logs envoy`)" in text  # whole, brackets kept
        assert "✓ build" in text and "✗ deploy" in text and "← current" in text
        await pilot.press("down", "enter")
        text = details_text(app)
        assert text.startswith("bob") and "undefined: proxywasm" in text
        assert app.focused is app.screen.query_one("#details-box")
        await pilot.press("escape", "down", "down")
        assert details_text(app).startswith("dave") and "no step checked yet" in details_text(app)
        await pilot.press("q")
    assert app.return_code == 0


async def test_a_folder_that_goes_away_is_one_sentence(tmp_path: Path) -> None:
    app = make_app(tmp_path / "nowhere")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "cannot read the room" in str(app.screen.query_one("#summary").render()))
        assert "is not a folder" in str(app.screen.query_one("#summary").render())


def test_room_snapshot(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder, _ = make_room(tmp_path)

    async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
        await wait_for(pilot, has_rows(pilot.app, 4))
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(make_app(folder, interval=60), terminal_size=(80, 24), run_before=settle)
