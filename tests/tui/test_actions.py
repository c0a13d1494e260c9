"""Pilot tests: the learner's actions, driven through keys as a person would press them."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from textual.widgets import Collapsible, Log, Markdown, Static
from textual.widgets._collapsible import CollapsibleTitle

from tests.conftest import group_running
from tests.tui.conftest import make_app, wait_for
from workshop.core import chain
from workshop.env import supervisor
from workshop.runs.session import Session
from workshop.tui.screens.confirm import ConfirmScreen
from workshop.tui.screens.main import MainScreen
from workshop.tui.widgets.checks.check_panel import CheckRow
from workshop.tui.widgets.output.command_log import CommandLog
from workshop.tui.widgets.step.step_view import StepView

SIZE = (100, 32)


def step_text(app: object) -> str:
    view = app.screen.query_one(StepView)  # type: ignore[attr-defined]
    return "\n".join(md.source for md in view.query(Markdown))


def rows(app: object) -> list[CheckRow]:
    return list(app.screen.query(CheckRow))  # type: ignore[attr-defined]


async def press_run(app: object, pilot: object) -> None:
    """Keyboard only: focus the step's Run button (it scrolls into view) and press Enter."""
    app.screen.query_one(".run").focus()  # type: ignore[attr-defined]
    await pilot.press("enter")  # type: ignore[attr-defined]


def summary(app: object) -> str:
    return str(app.screen.query_one("#summary", Static).content)  # type: ignore[attr-defined]


async def test_opens_on_the_first_step_and_navigates(tiny_session: Session) -> None:
    app = make_app(tiny_session)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        assert screen.step and screen.step.id == "answer"
        assert "Lab 01 is not started" in str(screen.query_one(".banner Static", Static).content)
        await pilot.press("n")
        assert screen.step.id == "note"
        assert "Leave a note" in step_text(app)
        await pilot.press("n")  # across labs
        assert screen.lab and screen.lab.slug == "02-hang"
        await pilot.press("p", "p")
        assert screen.step.id == "answer"
        await pilot.press("n")
    progress = tiny_session.progress()
    assert (progress.current_lab, progress.current_step) == ("01-tiny", "note")


async def test_reopening_resumes_where_the_learner_was(tiny_session: Session) -> None:
    tiny_session.goto(tiny_session.workshop.labs[0], tiny_session.workshop.labs[0].steps[1])
    app = make_app(tiny_session)
    async with app.run_test(size=SIZE):
        assert app.screen.step.id == "note"  # type: ignore[attr-defined]


async def test_start_lab_makes_the_folder(tiny_session: Session) -> None:
    app = make_app(tiny_session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")  # not started yet: a notice, no check
        assert not app.screen.checking  # type: ignore[attr-defined]
        await pilot.press("t")
        await pilot.pause()
        assert (tiny_session.workspace / "01-tiny" / "answer.txt").read_text() == "no\n"
        assert not app.screen.query(".banner")


async def test_hints_one_more_each_press(started: Session) -> None:
    app = make_app(started)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h")
        await pilot.pause()
        assert "Open answer.txt." in step_text(app)
        assert "whole content" not in step_text(app)
        await pilot.press("h")
        await pilot.pause()
        assert "whole content" in step_text(app)
        await pilot.press("h")  # no more: the count stays
    lab = started.workshop.labs[0]
    assert started.progress().step(lab.slug, "answer").hints_shown == 2


async def test_check_shows_a_failing_verdict_with_expected_seen_try(started: Session) -> None:
    app = make_app(started)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        assert not summary(app).startswith("Press c")  # feedback at once, before or as verdicts arrive
        await app.workers.wait_for_complete()
        await pilot.pause()
        [row] = rows(app)
        assert row.state == "failed"
        explained = str(row.query_one(".explain", Static).content)
        assert "expected: yes" in explained and "seen    : no" in explained and "try" in explained
        assert "read answer.txt" in str(row.query_one(".output", Static).content)
        details = row.query_one(Collapsible)
        assert details.collapsed  # the captured output is there, folded until asked for
        details.query_one(CollapsibleTitle).focus()
        await pilot.press("enter")
        assert not details.collapsed
        assert "1 of 1 check(s) failed" in summary(app)
    assert started.progress().status("01-tiny", "answer") == "failing"


async def test_a_check_that_times_out(tiny_session: Session) -> None:
    lab = tiny_session.workshop.labs[1]
    tiny_session.workspace.mkdir(parents=True)
    from workshop.core import workspace

    workspace.start(tiny_session.workspace, lab)
    tiny_session.goto(lab, lab.steps[0])
    app = make_app(tiny_session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await wait_for(pilot, lambda: any(r.state == "running" for r in rows(app)), timeout=15)
        await wait_for(pilot, lambda: not app.screen.checking, timeout=30)  # type: ignore[attr-defined]
        [row] = rows(app)
        assert row.state == "timed out"
        assert "1 s limit" in str(row.query_one(".explain", Static).content)


async def test_solution_asks_shows_the_diff_backs_up_and_applies(started: Session) -> None:
    answer = started.workspace / "01-tiny" / "answer.txt"
    app = make_app(started)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "+yes" in app.screen.diff
        await pilot.press("n")  # changed my mind
        await pilot.pause()
        assert answer.read_text() == "no\n"
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
    assert answer.read_text() == "yes\n"
    [backup] = (started.workspace / ".backups" / "01-tiny").iterdir()
    assert (backup / "answer.txt").read_text() == "no\n"


async def test_reset_asks_then_restores_the_starter(started: Session) -> None:
    answer = started.workspace / "01-tiny" / "answer.txt"
    answer.write_text("maybe\n")
    app = make_app(started)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await pilot.pause()
    assert answer.read_text() == "no\n"
    [backup] = (started.workspace / ".backups" / "01-tiny").iterdir()
    assert (backup / "answer.txt").read_text() == "maybe\n"


async def test_watch_mode_rechecks_when_a_file_is_saved(started: Session) -> None:
    app = make_app(started)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        assert "watching" in app.screen.sub_title
        await pilot.pause(0.5)
        assert not rows(app)  # nothing saved yet, nothing checked
        (started.workspace / "01-tiny" / "answer.txt").write_text("yes\n")
        await wait_for(pilot, lambda: bool(rows(app)) and rows(app)[0].state == "passed", timeout=30)
        await wait_for(pilot, lambda: not app.screen.checking)  # type: ignore[attr-defined]
    assert started.progress().status("01-tiny", "answer") == "passed"


async def test_watch_mode_checks_a_broken_then_fixed_save_with_the_same_warm_worker(started: Session) -> None:
    from workshop.runs import checks

    answer = started.workspace / "01-tiny" / "answer.txt"
    app = make_app(started)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        answer.write_text("no\n")
        await wait_for(pilot, lambda: bool(rows(app)) and rows(app)[0].state == "failed", timeout=30)
        await wait_for(pilot, lambda: not app.screen.checking and checks._warm is not None)  # type: ignore[attr-defined]
        worker = checks._warm
        answer.write_text("yes\n")
        await wait_for(pilot, lambda: bool(rows(app)) and rows(app)[0].state == "passed", timeout=30)
        await wait_for(pilot, lambda: not app.screen.checking and checks._warm is not None)  # type: ignore[attr-defined]
        assert checks._warm is worker and worker.alive()  # the second save's cycle forked the same worker
    assert started.progress().status("01-tiny", "answer") == "passed"


async def test_passing_the_last_step_shows_the_lab_is_done_and_what_is_next(started: Session) -> None:
    from workshop.core import workspace

    lab = started.workshop.labs[0]
    workspace.put(started.workspace, lab, chain.solution_files(lab), reason="solve")
    app = make_app(started)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [r.state for r in rows(app)] == ["passed", "passed"]
        text = step_text(app)
        assert "Lab 01 complete" in text and "Next: Lab 02, A hanging lab" in text


@pytest.mark.slow
async def test_run_streams_output_and_stop_kills_the_process_group(started: Session) -> None:
    app = make_app(started)
    async with app.run_test(size=SIZE) as pilot:
        await press_run(app, pilot)
        log = app.screen.query_one("#output Log", Log)
        await wait_for(pilot, lambda: any("hello-from-lab" in line for line in log.lines), timeout=10)
        await wait_for(pilot, lambda: not app.screen.query_one(CommandLog).running, timeout=10)
        await pilot.press("n")  # step 2 runs `sleep 30`
        await pilot.pause()
        await press_run(app, pilot)
        output = app.screen.query_one(CommandLog)
        await wait_for(pilot, lambda: output.running, timeout=10)
        pgid = output._proc.pid  # type: ignore[union-attr]
        await pilot.press("x")
        await wait_for(pilot, lambda: not output.running and "stopped" in log.lines[-1], timeout=10)
        assert not group_running(pgid)
    assert not [r for r in supervisor.tracked() if r["owner"] == os.getpid() and r["label"] == "command"]


async def test_a_save_during_a_check_is_checked_when_it_ends(started: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    real_check, release, calls = started.check, threading.Event(), []

    def held_check(*args: object, **kwargs: object) -> object:
        calls.append(args)
        if len(calls) == 1:
            release.wait(timeout=30)  # the first check is still running when the learner saves
        return real_check(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(started, "check", held_check)
    app = make_app(started)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        await pilot.press("c")
        await wait_for(pilot, lambda: app.screen.checking)  # type: ignore[attr-defined]
        (started.workspace / "01-tiny" / "answer.txt").write_text("yes\n")
        await wait_for(pilot, lambda: app.screen.watch_pending, timeout=10)  # type: ignore[attr-defined]
        release.set()
        await wait_for(pilot, lambda: len(calls) == 2 and not app.screen.checking  # type: ignore[attr-defined]
                       and bool(rows(app)) and rows(app)[0].state == "passed", timeout=30)
    assert started.progress().status("01-tiny", "answer") == "passed"


async def test_shell_suspends_and_opens_in_the_lab_folder(started: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from workshop.core.locations import tools_bin
    from workshop.tui.screens import main

    calls: list[tuple[list[str], Path, dict]] = []
    monkeypatch.setattr(main.subprocess, "run", lambda argv, cwd=None, env=None, check=False: calls.append((argv, cwd, env)))
    monkeypatch.setenv("SHELL", "/bin/sh")
    app = make_app(started)
    monkeypatch.setattr(app, "suspend", contextlib.nullcontext)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("exclamation_mark")
        await pilot.pause()
    [(argv, cwd, env)] = calls
    assert (argv, cwd) == (["/bin/sh"], started.workspace / "01-tiny")
    assert env["PATH"].startswith(f"{tools_bin()}{os.pathsep}")  # the tools `workshop shellenv` gives
    assert "FUNC_E_DATA_HOME" in env and "ENVOY_VERSIONS_URL" in env


async def test_errors_are_notices_with_the_fix_not_tracebacks(started: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_go(*args: object, **kwargs: object) -> None:
        raise FileNotFoundError(2, "No such file or directory", "go")

    monkeypatch.setattr(started, "check", no_go)
    app = make_app(started)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await app.workers.wait_for_complete()
        await pilot.pause()
        notices = [n.message for n in app._notifications]
        assert any("go is not installed" in m and "workshop doctor" in m for m in notices)
        assert "could not run" in summary(app)
        await pilot.press("n")  # still alive and responsive
        assert app.screen.step.id == "note"  # type: ignore[attr-defined]


async def test_palette_offers_only_what_fits(started: Session, tiny_session: Session) -> None:
    app = make_app(started)
    async with app.run_test(size=SIZE):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Check this step" in titles and "Show one more hint" in titles
        assert "Start this lab" not in titles  # already started
        assert "Stop the running command" not in titles


async def test_works_with_no_color(started: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(started)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.no_color
        await pilot.press("n", "h", "p")
        assert app.screen.step.id == "answer"  # type: ignore[attr-defined]
