"""The grading of one submission, as one process: inside the sandbox's container, or on the host.

The grader writes one JSON line on stdin: the key that signs events, the labs, the submission's
folder. For each lab this process starts what the learner keeps running (their build, their Envoy)
and the lab's services, runs the workshop's checks, and writes every event to stdout as a signed
JSON line. A line without a valid signature (a submission printing fake results) is not believed.

It makes itself non-dumpable first: code of the same user can then neither read its memory (the
key) nor open its file descriptors through /proc.
"""

from __future__ import annotations

import ctypes
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

PR_SET_DUMPABLE = 4


def sign(key: bytes, seq: int, event: dict[str, Any]) -> str:
    """One line of the job's output."""
    body = json.dumps(event, sort_keys=True, separators=(",", ":"))
    mac = hmac.new(key, f"{seq}:{body}".encode(), hashlib.sha256).hexdigest()
    return json.dumps({"n": seq, "event": body, "sig": mac})


def verify(key: bytes, line: str, expected_seq: int) -> dict[str, Any] | None:
    """The event of a line written by this job, or None when the line is not one (forged, replayed, noise)."""
    try:
        outer = json.loads(line)
        seq, body, mac = int(outer["n"]), str(outer["event"]), str(outer["sig"])
    except (ValueError, KeyError, TypeError):
        return None
    good = hmac.new(key, f"{seq}:{body}".encode(), hashlib.sha256).hexdigest()
    if seq != expected_seq or not hmac.compare_digest(good, mac):
        return None
    event = json.loads(body)
    return event if isinstance(event, dict) else None


class Events:
    """Signed events on stdout."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.seq = 0
        self.out = os.fdopen(os.dup(1), "w", buffering=1)

    def __call__(self, event: dict[str, Any]) -> None:
        self.out.write(sign(self.key, self.seq, event) + "\n")
        self.seq += 1


def not_dumpable() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _prepare(job: dict[str, Any]) -> Path:
    """The workspace to grade: the submission itself, or (in the sandbox) a private copy in the tmpfs."""
    workspace = Path(job["submission"])
    if job.get("copy_to"):
        copy = Path(job["copy_to"])
        shutil.copytree(workspace, copy, symlinks=True)
        workspace = copy
    seed, cache = os.environ.get("WORKSHOP_GOCACHE_SEED", ""), os.environ.get("GOCACHE", "")
    if seed and cache and Path(seed).is_dir() and not Path(cache).exists():
        cp = shutil.which("cp")
        if cp:  # coreutils copies the ~5000 small files several times faster than copytree
            subprocess.run([cp, "-R", seed, cache], check=False, timeout=300)
        if not Path(cache).exists():
            shutil.copytree(seed, cache, symlinks=True)
    Path(os.environ.get("HOME", "/tmp/home")).mkdir(parents=True, exist_ok=True)
    return workspace


def grade_lab(lab: Any, workspace: Path, timeout: float | None, emit: Events) -> None:
    from workshop.core.runner import run_checks
    from workshop.env import services
    from workshop.env.learner import running

    folder = workspace / lab.slug
    emit({"event": "lab-start", "lab": lab.slug, "submitted": folder.is_dir()})
    problems: list[str] = []
    try:
        if lab.services:
            try:
                services.ensure(lab.services)
            except services.ServiceError as exc:
                problems.append(f"the workshop could not start {', '.join(lab.services)}: {exc}")
        if folder.is_dir():
            with running(lab, folder, must_start=False) as not_started:
                problems += not_started
                run_checks(lab, folder, on_event=emit, timeout=timeout)
        else:
            run_checks(lab, folder, on_event=emit, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - reported to the grader as grading that broke
        emit({"event": "lab-broken", "lab": lab.slug, "reason": f"{type(exc).__name__}: {exc}"[:2000]})
    finally:
        services.stop_owned()
    emit({"event": "lab-end", "lab": lab.slug, "problems": problems})


def main() -> int:
    not_dumpable()
    job = json.loads(sys.stdin.readline())
    emit = Events(bytes.fromhex(job["key"]))
    sys.stdout = sys.stderr  # nothing but signed events goes to the real stdout
    from workshop.core.content import ContentError, load_workshop
    from workshop.core.locations import content_root

    try:
        workshop = load_workshop(content_root())
        workspace = _prepare(job)
    except (ContentError, OSError) as exc:
        emit({"event": "broken", "reason": f"{type(exc).__name__}: {exc}"[:2000]})
        return 3
    for slug in job["labs"]:
        grade_lab(workshop.lab(slug), workspace, job.get("timeout"), emit)
    emit({"event": "done"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
