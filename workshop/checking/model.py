"""What a check is, worked out one way: from pytest's own collection of a lab's checks/ files.

``Check`` is built from a collected pytest item (its ``step`` marker, docstring and location). The
runner, ``workshop validate``, grading and the app all learn a lab's checks from the same collection,
and the check process reports to the runner with the typed events below, one JSON line each.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workshop.core.verdict import Verdict

DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True)
class Check:
    """One check: the lab and step it judges, its time limit and points, and where it is written."""

    nodeid: str
    lab: str  # the lab's folder name, e.g. 01-first-filter
    step: str  # "" when the check has no step marker (validate says so)
    name: str  # the test's name without test_
    title: str  # the first line of its docstring, or its name in words
    timeout: float = DEFAULT_TIMEOUT
    points: int = 1
    path: str = ""  # its file, and the line of its def: for `workshop validate`
    line: int = 0

    @classmethod
    def from_item(cls, item: Any, check_timeout: float | None = None) -> Check:
        marker = item.get_closest_marker("step")
        kwargs = marker.kwargs if marker else {}
        doc = (getattr(getattr(item, "function", None), "__doc__", None) or "").strip()
        name = item.name.removeprefix("test_")
        return cls(
            nodeid=item.nodeid, lab=Path(str(item.path)).parent.name,
            step=str(marker.args[0]) if marker and marker.args else "", name=name,
            title=doc.splitlines()[0] if doc else name.replace("_", " "),
            timeout=float(check_timeout or kwargs.get("timeout", DEFAULT_TIMEOUT)),
            points=int(kwargs.get("points", 1)), path=str(item.path), line=_def_line(item),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Check:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def verdict(self, status: str, message: str = "") -> Verdict:
        """A verdict for this check that the check itself could not give (it was killed, it never ran)."""
        return Verdict(lab=self.lab, step=self.step, name=self.name, nodeid=self.nodeid, status=status,
                       title=self.title, message=message, points=self.points)


def _def_line(item: Any) -> int:
    """The line of the check's ``def`` (below its decorators), 1-based; 0 when its source cannot be read."""
    import inspect

    try:
        lines, start = inspect.getsourcelines(item.function)
    except (AttributeError, OSError, TypeError):
        return 0
    below = next((n for n, text in enumerate(lines) if text.lstrip().startswith(("def ", "async def "))), 0)
    return start + below


# ---------------------------------------------------------------- what the check process tells the runner


@dataclass
class Collected:
    """The checks about to run, in the order of the lab's steps."""

    checks: list[Check] = field(default_factory=list)
    kind = "collected"


@dataclass
class Started:
    """A check started now; it must end within ``check.timeout`` seconds."""

    check: Check
    kind = "start"


@dataclass
class Finished:
    """A check's verdict."""

    verdict: Verdict
    kind = "result"


Event = Collected | Started | Finished


def to_line(event: Event) -> str:
    """The event as one JSON line (the only place events are written)."""
    if isinstance(event, Collected):
        body: dict[str, Any] = {"checks": [c.to_dict() for c in event.checks]}
    elif isinstance(event, Started):
        body = {"check": event.check.to_dict()}
    else:
        body = {"verdict": event.verdict.to_dict()}
    return json.dumps({"event": event.kind, **body})


def from_line(line: str | bytes) -> Event | None:
    """The event a JSON line holds (the only place events are read); None for anything else."""
    try:
        data = json.loads(line)
        kind = data.get("event")
        if kind == Collected.kind:
            return Collected([Check.from_dict(c) for c in data["checks"]])
        if kind == Started.kind:
            return Started(Check.from_dict(data["check"]))
        if kind == Finished.kind:
            return Finished(Verdict.from_dict(data["verdict"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return None


# ---------------------------------------------------------------- how pytest is asked


def pytest_args(checks_dir: Path, root: Path, step_order: list[str], *, workspace: Path | str = os.devnull,
                steps: list[str] | tuple[str, ...] = (), deselect: list[str] | tuple[str, ...] = (),
                timeout: float | None = None, collect_only: bool = False) -> list[str]:
    """The one pytest command line for a lab's checks, to run them or only to collect them."""
    argv = [
        str(checks_dir), "--workspace", str(workspace), "-p", "workshop.checking.plugin",
        "-p", "no:cacheprovider", "-q", "--no-header", "-rN", "--rootdir", str(root), "-c", os.devnull,
        # with -c /dev/null pytest would look for conftest.py files from / down and list every folder
        # on the way (all of /tmp for a workshop there: 0.1 s); the content's own folder is the top
        "--confcutdir", str(root),
        "-W", "ignore::pytest.PytestAssertRewriteWarning", "--step-order", ",".join(step_order),
        # these two run five full garbage collections at start and end (0.1 s of every cycle) to find
        # exceptions nobody could raise; a check reports its own errors
        "-p", "no:unraisableexception", "-p", "no:threadexception",
    ]
    for step in steps:
        argv += ["--step", step]
    for nodeid in deselect:
        argv += ["--deselect", nodeid]
    if timeout:
        argv += ["--check-timeout", str(timeout)]
    if collect_only:
        argv.append("--collect-only")
    return argv
