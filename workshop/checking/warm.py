"""A check process started ahead of time: pytest and the check plugin are imported before the
checks are known, so a check cycle does not wait for Python to start.

The runner writes one JSON line on stdin, ``{"argv": [...], "cwd": "..."}``; this process then runs
pytest once with it and exits. Events go to the descriptor in WORKSHOP_EVENTS_FD, set at spawn.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

import workshop.checking.fixtures  # noqa: F401  (the imports a check run needs, done at start)
import workshop.checking.plugin  # noqa: F401


def main() -> int:
    line = sys.stdin.readline()
    if not line.strip():
        return 0  # the runner closed us unused
    job = json.loads(line)
    if job.get("cwd"):
        os.chdir(job["cwd"])
    return int(pytest.main(job["argv"]))


def finish(code: int) -> None:
    """Exit without tearing the interpreter down: the runner waits for this process to end before it
    shows the summary, and unloading pytest's modules only costs time. Exit handlers (that stop owned
    services) still run, and the output is flushed."""
    import atexit

    try:
        atexit._run_exitfuncs()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    finish(main())
