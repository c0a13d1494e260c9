"""The outcome of one check, as the learner, the instructor and a CI job see it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

# The one vocabulary of statuses. A check's verdict is one of these five...
PASSED, FAILED, ERROR, TIMED_OUT, SKIPPED = "passed", "failed", "error", "timed out", "skipped"
STATUSES = (PASSED, FAILED, ERROR, TIMED_OUT, SKIPPED)
# ...and a step, in the learner's progress, is not started, failing (its last check run did not all
# pass) or passed. These words are stored in progress files: they never change.
NOT_STARTED, FAILING = "not started", "failing"
STEP_STATUSES = (NOT_STARTED, FAILING, PASSED)
# How every screen and command shows them: (mark, rich style); the app and the commands alike.
MARKS: dict[str, tuple[str, str]] = {
    PASSED: ("✓", "bold green"), FAILED: ("✗", "bold red"), ERROR: ("!", "bold red"),
    TIMED_OUT: ("⏱", "bold red"), SKIPPED: ("-", "dim"), FAILING: ("✗", "red"),
    NOT_STARTED: ("○", "dim"), "running": ("▶", "bold yellow"), "pending": ("○", "dim"),
}


@dataclass
class Verdict:
    lab: str  # the lab's folder name, e.g. 01-first-filter
    step: str
    name: str
    nodeid: str
    status: str
    title: str = ""
    message: str = ""  # one plain sentence for the learner
    expected: str = ""
    seen: str = ""
    hint: str = ""
    note: str = ""  # what the learner should know even when the check passes (say, whose registry it used)
    output: str = ""  # what the check's commands printed, for the details view
    traceback: str = ""  # shown only with --verbose
    seconds: float = 0.0
    tool_seconds: float = 0.0  # of ``seconds``, what the wrapped tools (go, Envoy, requests) took
    points: int = 1

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Verdict:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def explain(self) -> str:
        return explain(self.message, self.expected, self.seen, self.hint)


def explain(message: str, expected: str = "", seen: str = "", hint: str = "") -> str:
    """A message with expected / seen / what to try, as the CLI, the TUI and pytest show it."""
    parts = [message] if message else []
    for label, text in (("expected", expected), ("seen    ", seen), ("try     ", hint)):
        if text:
            lines = text.splitlines()
            parts.append(f"{label}: {lines[0]}" + "".join(f"\n          {ln}" for ln in lines[1:]))
    return "\n".join(parts)
