"""What every command prints the same way: verdict marks, colour (never for pipes or NO_COLOR), JSON,
and the options every command takes."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from workshop.core.verdict import MARKS


def color(code: str, text: str) -> str:
    if os.environ.get("NO_COLOR") or not sys.stdout.isatty():
        return text
    return f"\033[{code}m{text}\033[0m"


def mark(status: str) -> str:
    """The status's mark, coloured: ✓ passed, ✗ failed, ..."""
    code, sign, _style = MARKS.get(status, ("0", "?", ""))
    return color(code, sign)


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
