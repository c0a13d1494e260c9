"""The one base for errors a user can cause: a sentence that says what is wrong, and a hint that says
what to do. The CLI and the app show every such error the same way (``explain``); anything else that
escapes is a bug, shown as one line unless --verbose asks for the traceback.

A leaf module: it imports nothing of the project, so every layer may use it.
"""

from __future__ import annotations

import errno


class WorkshopError(Exception):
    """Something the user can fix. ``str(err)`` is the sentence; ``hint`` (may be empty) is the fix."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(WorkshopError):
    """The request itself is wrong: an unknown lab, service or backend, a bad port number, a step the
    lab does not have. The CLI exits 2 for it (3 for other errors: something the command needed)."""


def explain(exc: BaseException) -> str:
    """The error in plain words: its sentence, then the hint on its own line when there is one."""
    text = str(exc).strip() or type(exc).__name__
    hint = getattr(exc, "hint", "") if isinstance(exc, WorkshopError) else ""
    return f"{text}\n  try: {hint}" if hint else text


TOOLS = ("go", "envoy", "func-e", "docker", "tmux", "kubectl", "oras", "git")


def friendly(exc: BaseException) -> str:
    """One sentence a learner can act on, for any error: a WorkshopError says it itself; the usual
    system errors get their fix; anything else is its first line (a bug: --verbose shows where)."""
    if isinstance(exc, WorkshopError):
        return explain(exc)
    if isinstance(exc, FileNotFoundError) and exc.filename:
        name = str(exc.filename).rsplit("/", 1)[-1]
        if name in TOOLS:
            return f"{name} is not installed or not on PATH: run `workshop doctor` to see how to get it"
        return f"{exc.filename} does not exist"
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return "a port the lab needs is taken by another program: stop that program or choose another port"
    if isinstance(exc, PermissionError):
        return f"permission denied on {exc.filename or 'a file'}: check who owns your workspace"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "the disk is full: free some space, then try again"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return first[:300]
