"""What every command prints the same way: verdict marks, colour, the live line, JSON, and the options
every command takes.

Colour is decided here and only here, by rich: on for a terminal; never for a pipe or a file (CI logs,
--json), nor with NO_COLOR set or TERM=dumb. rich loads on first use, not with ``--help``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from workshop.core.verdict import MARKS

if TYPE_CHECKING:
    from rich.console import Console


def _console() -> Console:
    """A rich console on today's stdout (tests swap it): it knows whether colour and cursor moves make sense."""
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, markup=False, emoji=False, soft_wrap=True)


def _coloured(console: Console) -> bool:
    return console.is_terminal and not console.no_color and console.color_system is not None


def color(style: str, text: str) -> str:
    """``text`` in a rich style ("dim", "bold green") where colour is on; the text alone otherwise."""
    console = _console()
    if not _coloured(console):
        return text
    with console.capture() as captured:
        console.print(text, style=style, end="")
    return captured.get()


def mark(status: str) -> str:
    """The status's mark, coloured: ✓ passed, ✗ failed, ..."""
    sign, style = MARKS.get(status, ("?", ""))
    return color(style, sign)


def live() -> bool:
    """Whether a line may be rewritten in place (a terminal, not a log): for what runs now."""
    return _console().is_terminal


def live_line(text: str = "") -> None:
    """Replace the line under the cursor with ``text`` (nothing when not live()); the cursor stays on it."""
    from rich.control import Control
    from rich.segment import ControlType

    console = _console()
    if console.is_terminal:
        console.control(Control(ControlType.CARRIAGE_RETURN, (ControlType.ERASE_IN_LINE, 2)))
        console.file.write(text)  # already coloured by color() and mark()
        console.file.flush()


def clear_screen() -> None:
    """An empty terminal, cursor at the top (nothing when not live()): a view that redraws itself."""
    console = _console()
    if console.is_terminal:
        console.clear()


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def common_options(default: object) -> argparse.ArgumentParser:
    """--content, --workspace and --verbose, given before or after the command (with ``default`` SUPPRESS,
    a subcommand does not erase what was given before it)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--content", metavar="DIR", default=default,
                   help="run another workshop folder (with labs/, solutions/, checks/)")
    p.add_argument("--workspace", metavar="DIR", default=default,
                   help="your workspace, one folder per lab (default: $WORKSHOP_WORKSPACE or ~/wasm-workshop)")
    p.add_argument("--verbose", "-v", action="store_true", default=default,
                   help="show more: each check's captured output, and the traceback behind an error")
    return p


def json_option() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--json", action="store_true", help="print JSON for machines")
    return p


def session(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The learner's session for the --content and --workspace given; unreadable labs are named, not fatal."""
    from workshop.runs.session import Session

    opened = Session.open(getattr(args, "content", None), getattr(args, "workspace", None))
    for problem in opened.workshop.problems:
        print(f"workshop: left out a lab that cannot be read: {problem} (see `workshop validate`)", file=sys.stderr)
    for moved in opened.migrated:
        print(f"workshop: the labs were renumbered: {moved}", file=sys.stderr)
    return opened
