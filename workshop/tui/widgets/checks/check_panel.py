"""The check panel: each check of a run goes pending -> running -> its verdict, live."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Collapsible, Static

from workshop.checking import model
from workshop.checking.model import Check
from workshop.core.verdict import MARKS, Verdict
from workshop.runs.checks import CheckRun

WORDS = {"pending": "pending", "running": "running", "timed out": "timed out"}


def _look(state: str) -> tuple[str, str]:
    """The check's state as the panel shows it: mark and word, padded to one width, and its style."""
    mark, style = MARKS.get(state, ("?", ""))
    return f"{mark} {WORDS.get(state, state):<8}", style


class CheckRow(Vertical):
    """One check: a status line; for a failure, expected/seen/try and the captured output."""

    DEFAULT_CSS = """
    CheckRow { height: auto; }
    CheckRow .line { height: auto; }
    CheckRow .explain { height: auto; padding-left: 4; display: none; }
    CheckRow.failed .explain, CheckRow.noted .explain { display: block; }
    CheckRow Collapsible { padding-left: 2; border-top: none; }
    CheckRow Collapsible Static { height: auto; }
    """

    def __init__(self, check: Check) -> None:
        super().__init__()
        self.check = check
        self.state = "pending"

    def compose(self) -> ComposeResult:
        yield Static(self._line(), classes="line")
        yield Static("", classes="explain")

    def _line(self, extra: str = "") -> Text:
        label, style = _look(self.state)
        return Text.assemble((label, style), " ", (f"{self.check.step}: ", "dim"), self.check.title or self.check.name, extra)

    def running(self) -> None:
        self.state = "running"
        if self.is_mounted:  # before that, compose() draws the new state
            self.query_one(".line", Static).update(self._line())

    def show(self, verdict: Verdict) -> None:
        if not self.is_mounted or not self.query(".line"):  # mounted a moment ago: drawn on the next refresh
            self.call_after_refresh(self.show, verdict)
            return
        self.state = verdict.status
        self.query_one(".line", Static).update(self._line())
        if verdict.note:  # shown whatever the verdict (say, whose registry the check used)
            self.add_class("noted")
            self.query_one(".explain", Static).update(Text("note: " + verdict.note, style="dim"))
        if not verdict.passed and verdict.status != "skipped":
            self.add_class("failed")
            text = verdict.explain() + (f"\nnote: {verdict.note}" if verdict.note else "")
            self.query_one(".explain", Static).update(Text(text))
            if verdict.output.strip():
                self.mount(Collapsible(Static(Text(verdict.output.rstrip()), classes="output"), title="Captured output"))


class CheckPanel(VerticalScroll):
    """Live view of the last check run; fed by the check worker's events."""

    DEFAULT_CSS = """
    CheckPanel { padding: 0 1; }
    CheckPanel #summary { height: auto; text-style: bold; margin-bottom: 1; }
    """

    class Event(Message):
        """One event from the check runner (collected, started or finished), sent from the worker thread."""

        def __init__(self, event: model.Event) -> None:
            super().__init__()
            self.event = event

    def compose(self) -> ComposeResult:
        yield Static("Press c to check this step, a to check the whole lab.", id="summary")

    @property
    def rows(self) -> dict[str, CheckRow]:
        """The rows of this run (those of the last run are on their way out)."""
        return {row.check.nodeid: row for row in self.query(CheckRow) if not row.has_class("gone")}

    def begin(self, what: str, planned: list[Check] | None = None) -> None:
        """Immediate feedback for a key press: the checks about to run, the first one already running.

        The check process is started ahead of time, so the first check is under way as soon as the
        key is pressed; the runner's own events then confirm (or add to) these rows.
        """
        old = self.query(CheckRow)
        old.add_class("gone")
        old.remove()
        rows = [CheckRow(check) for check in planned or []]
        if rows:
            self.mount_all(rows)
            rows[0].running()
            self._summary(f"Checking {what}: {len(rows)} check(s)...")
        else:
            self._summary(f"Checking {what}... collecting checks")

    def on_check_panel_event(self, message: Event) -> None:
        message.stop()
        event = message.event
        rows = self.rows
        if isinstance(event, model.Collected):
            new = [CheckRow(c) for c in event.checks if c.nodeid not in rows]
            self.mount_all(new)
            self._summary(f"Running {len(rows) + len(new)} check(s)...")
        elif isinstance(event, model.Started):
            row = rows.get(event.check.nodeid)
            if row is None:
                row = CheckRow(event.check)
                self.mount(row)
            row.running()
        else:
            verdict = event.verdict
            row = rows.get(verdict.nodeid)
            if row is None:
                row = CheckRow(Check(nodeid=verdict.nodeid, lab=verdict.lab, step=verdict.step, name=verdict.name,
                                     title=verdict.title))
                self.mount(row)
                self.call_after_refresh(row.show, verdict)
            else:
                row.show(verdict)

    def finish(self, run: CheckRun) -> None:
        failed = [v for v in run.verdicts if not v.passed]
        if not run.verdicts:
            self._summary("No checks ran for this step.")
        elif not failed:
            self._summary(f"{MARKS['passed'][0]} All {len(run.verdicts)} check(s) passed.")
        else:
            self._summary(f"{MARKS['failed'][0]} {len(failed)} of {len(run.verdicts)} check(s) failed. Fix, save, and press c again.")

    def error(self, message: str) -> None:
        self._summary(f"The checks could not run: {message}")

    def _summary(self, text: str) -> None:
        self.query_one("#summary", Static).update(Text(text))
