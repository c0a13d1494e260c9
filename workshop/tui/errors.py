"""Turn exceptions into one sentence a learner can act on: the app shows notices, never tracebacks."""

from __future__ import annotations

import errno


def friendly(exc: BaseException) -> str:
    """One clear sentence (with the fix where we know it) for an error raised by the core."""
    from workshop.core.session import UserError

    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, FileNotFoundError) and exc.filename:
        name = str(exc.filename).rsplit("/", 1)[-1]
        if name in ("go", "envoy", "func-e", "docker", "tmux"):
            return f"{name} is not installed or not on PATH: run `workshop doctor` to see how to get it"
        return f"{exc.filename} does not exist"
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return "a port the lab needs is taken by another program: stop that program or choose another port"
    if isinstance(exc, PermissionError):
        return f"permission denied on {exc.filename or 'a file'}: check who owns your workspace"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return first[:300]
