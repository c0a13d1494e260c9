"""The check panel against the real runner on lab 01 (Go, and Envoy for the solution)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui.conftest import make_app, wait_for
from workshop.core import chain, workspace
from workshop.runs.session import Session
from workshop.tui.widgets.checks.check_panel import CheckRow
from workshop.tui.widgets.step.step_view import StepView


def lab01(tmp_path: Path, content: Path) -> Session:
    session = Session.open(content=str(content), workspace=str(tmp_path / "ws"))
    session.workspace.mkdir(parents=True)
    workspace.start(session.workspace, session.workshop.lab("01"))
    return session


@pytest.mark.slow
async def test_the_starter_fails_its_checks_live(tmp_path: Path, lab01_content: Path) -> None:
    session = lab01(tmp_path, lab01_content)
    app = make_app(session)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("a")
        await wait_for(pilot, lambda: bool(app.screen.query(CheckRow)), timeout=30)
        await wait_for(pilot, lambda: not app.screen.checking, timeout=120)  # type: ignore[attr-defined]
        rows = list(app.screen.query(CheckRow))
        assert len(rows) == 5 and all(r.state == "failed" for r in rows)
        assert "func main" in str(rows[0].query_one(".explain").content)
    assert session.progress().status("01-first-filter", "build") == "failing"


@pytest.mark.slow
async def test_the_solution_passes_the_lab(tmp_path: Path, lab01_content: Path) -> None:
    session = lab01(tmp_path, lab01_content)
    lab = session.workshop.lab("01")
    workspace.put(session.workspace, lab, chain.solution_files(lab), reason="solve")
    app = make_app(session)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("a")
        await wait_for(pilot, lambda: not app.screen.checking, timeout=300)  # type: ignore[attr-defined]
        assert [r.state for r in app.screen.query(CheckRow)] == ["passed"] * 5
        assert "Lab 01 complete" in "".join(md.source for md in app.screen.query_one(StepView).query("Markdown"))
