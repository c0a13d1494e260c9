"""Snapshots of the main screen, a failing check and a passed lab (fixed size; no times or tmp paths shown)."""

from __future__ import annotations

from pathlib import Path

from tests.tui.conftest import make_app
from workshop.core import chain, workspace
from workshop.runs.session import Session

SIZE = (100, 32)


async def _settle(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    pilot.app.clear_notifications()  # toasts time out; keep them out of the picture
    await pilot.pause()


def test_main_screen(snap_compare, tmp_path: Path, lab01_content: Path) -> None:  # type: ignore[no-untyped-def]
    session = Session.open(content=str(lab01_content), workspace=str(tmp_path / "ws"))  # lab 01, not started
    assert snap_compare(make_app(session), terminal_size=SIZE, run_before=_settle)


def test_failing_check(snap_compare, started: Session) -> None:  # type: ignore[no-untyped-def]
    async def check(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("c")
        await _settle(pilot)

    assert snap_compare(make_app(started), terminal_size=SIZE, run_before=check)


def test_passed_lab(snap_compare, started: Session) -> None:  # type: ignore[no-untyped-def]
    lab = started.workshop.labs[0]
    workspace.put(started.workspace, lab, chain.solution_files(lab), reason="solve")

    async def check_lab(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("a")
        await _settle(pilot)

    assert snap_compare(make_app(started), terminal_size=SIZE, run_before=check_lab)
