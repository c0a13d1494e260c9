"""Running the learner's tools from a check: always with a deadline, output kept for the details view."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from workshop.checking.feedback import fail
from workshop.env import supervisor
from workshop.env.supervisor import Result


class Deadline:
    """The time a check has left."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self, cap: float | None = None) -> float:
        rest = max(0.1, self.end - time.monotonic())
        return min(rest, cap) if cap else rest


class Commands:
    """Runs commands in the learner's folder; every run is recorded for the check's captured output."""

    def __init__(self, cwd: Path, deadline: Deadline, transcript: list[str]) -> None:
        self.cwd = cwd
        self.deadline = deadline
        self.transcript = transcript

    def __call__(
        self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float | None = None,
        cwd: Path | None = None,
    ) -> Result:
        full_env = {**os.environ, **(env or {})}
        limit = self.deadline.left(timeout)
        try:
            result = supervisor.run(argv, cwd=cwd or self.cwd, env=full_env, timeout=limit, label="check")
        except FileNotFoundError:
            fail(f"`{argv[0]}` is not installed or not on PATH", hint="run `workshop doctor` to see how to install it")
        status = "killed: time limit" if result.timed_out else f"exit {result.code}"
        self.transcript.append(f"$ {' '.join(argv)}    ({status}, {result.seconds:.2f} s)\n{result.output}")
        return result


GO_ERROR = re.compile(r"^(?:\./)?[^\s:]+\.go:\d+(?::\d+)?: .*$", re.M)
WASM_ENV = {"GOOS": "wasip1", "GOARCH": "wasm"}


def compiler_errors(output: str, limit: int = 5) -> list[str]:
    """The first ``file:line: message`` lines of Go's output."""
    return GO_ERROR.findall(output)[:limit]


def explain_go_failure(output: str, what: str) -> tuple[str, str]:
    """A summary and a hint for a failed go build or go test."""
    errors = compiler_errors(output)
    if "go.mod file not found" in output or "cannot find main module" in output:
        return "there is no go.mod in your lab folder", "restore the starter's go.mod with `workshop reset LAB`, or run `go mod init`"
    if "missing go.sum entry" in output or "no required module provides package" in output:
        return f"{what}: a module is missing", "run `go mod tidy` in your lab folder (after `workshop prepare` it works offline)"
    if "function main is undeclared" in output:
        return f"{what}: package main has no func main", "add an empty `func main() {}`: Go still needs it when building a Wasm reactor"
    if errors:
        return f"{what}: your code does not compile", "fix the first error; file:line points at it"
    tail = "\n".join(output.strip().splitlines()[-3:])
    return f"{what} failed", tail or "run it yourself to see the full output"


def first_failure(output: str) -> str:
    """From `go test` output: the failing test, its message and the learner's own file:line, without
    the Go runtime's frames."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    picked = [ln for ln in lines if ln.startswith(("---", "panic")) or
              (".go:" in ln and not ln.startswith("/") and "+0x" not in ln)]
    mine = [ln for ln in lines if ln.startswith("/") and "/go/src/" not in ln and "/pkg/mod/" not in ln and ".go:" in ln]
    return "\n".join((picked or lines)[:4] + [ln.split(" +0x")[0] for ln in mine[:2]])
