"""How a check tells the learner what went wrong: what was expected, what was seen, what to try."""

from __future__ import annotations

from typing import NoReturn

from workshop.core.verdict import explain


class CheckFailed(AssertionError):
    """A failing verdict with a message for the learner (not a bug in the check)."""

    def __init__(self, summary: str, *, expected: str = "", seen: str = "", hint: str = "") -> None:
        super().__init__(summary)
        self.summary = summary
        self.expected = expected
        self.seen = seen
        self.hint = hint

    def render(self) -> str:
        return explain(self.summary, self.expected, self.seen, self.hint)


class CheckTimeout(Exception):
    """The check ran past its time limit."""


def fail(summary: str, *, expected: str = "", seen: str = "", hint: str = "") -> NoReturn:
    raise CheckFailed(summary, expected=expected, seen=seen, hint=hint)


_notes: list[str] = []  # the running check's notes; the plugin empties it before each check


def note(text: str) -> None:
    """Something the learner should know about how the check judged, whatever the verdict."""
    if text not in _notes:
        _notes.append(text)


def take_notes() -> str:
    """The notes of the check that just ran, and a clean slate for the next one."""
    text = "\n".join(_notes)
    _notes.clear()
    return text
