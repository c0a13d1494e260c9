"""The child of a grading job (``job_runner`` is its parent): the grading of one submission, as one process,
inside the sandbox's container or on the host.

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
import sys
import time
from pathlib import Path
from typing import Any

from workshop.checking import model
from workshop.core.content import ContentError, load_workshop
from workshop.core.errors import WorkshopError
from workshop.core.locations import content_root, state_dir
from workshop.env import services, supervisor
from workshop.env.envoy import EnvoyError, find_envoy
from workshop.env.learner import running
from workshop.env.tools import ProbeFailed, envoy_version, func_e_home
from workshop.runs.checks import run_checks

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
        link_gocache(Path(seed), Path(cache))
    Path(os.environ.get("HOME", "/tmp/home")).mkdir(parents=True, exist_ok=True)
    return workspace


def link_gocache(seed: Path, cache: Path) -> None:
    """A writable Go build cache whose seeded entries are links into the read-only seed (no 120 MB copy).

    Go reads through the links and writes what it builds beside them; it cannot change the seed. A
    fresh trim.txt keeps Go from trimming the seed's entries, whose times are those of the seed.
    """
    for here, _dirs, files in os.walk(seed):
        folder = cache / os.path.relpath(here, seed)
        folder.mkdir(parents=True, exist_ok=True)
        for name in files:
            if name != "trim.txt":
                os.symlink(os.path.join(here, name), folder / name)
    (cache / "trim.txt").write_text(str(int(time.time())))


def lab_dirs(slug: str) -> Path:
    """A fresh data and cache folder for one lab: its registry storage, pulled modules and func-e's Envoy.

    Each lab is graded on its own: nothing a previous lab pushed, pulled or applied is seen, and the
    host's own data folder (its registry's images, its caches) is never used nor written.
    """
    root = state_dir().parent / "labs" / slug
    shutil.rmtree(root, ignore_errors=True)
    for name in ("data", "cache"):
        (root / name).mkdir(parents=True, exist_ok=True)
        os.environ[f"WORKSHOP_{name.upper()}_DIR"] = str(root / name)
    shutil.rmtree(state_dir() / "mesh", ignore_errors=True)  # the local mesh starts empty
    return root


def give_func_e_its_envoy() -> None:
    """func-e runs offline on the workshop's Envoy: a link to it where func-e looks for its version."""
    try:
        envoy = find_envoy()[0].resolve()
        version = envoy_version(envoy, timeout=20)
    except (EnvoyError, ProbeFailed):
        return  # the learner's run reports that func-e has no Envoy
    link = func_e_home() / "envoy-versions" / version / "bin" / "envoy"
    try:
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(envoy)
    except OSError:
        return  # a read-only tools folder without this Envoy: the learner's run reports it


def stop_lab() -> None:
    """Stop what the lab's checks and services left running (the sidecar, the registries, Envoys)."""
    services.stop_owned()
    supervisor.stop_everything(state_dir())


def grade_lab(lab: Any, workspace: Path, timeout: float | None, emit: Events) -> None:
    folder = workspace / lab.slug
    emit({"event": "lab-start", "lab": lab.slug, "submitted": folder.is_dir()})

    def checked(event: model.Event) -> None:  # the check process's events, passed on signed
        emit(json.loads(model.to_line(event)))

    problems: list[str] = []
    scratch = lab_dirs(lab.slug)
    try:
        if not folder.is_dir():  # not submitted: every check fails at once, nothing needs to run
            run_checks(lab, folder, on_event=checked, timeout=timeout)
            return
        if any(run.command[:1] == ["func-e"] for run in lab.runs):
            give_func_e_its_envoy()
        if lab.services:
            try:
                services.ensure(lab.services)
            except WorkshopError as exc:
                problems.append(f"the workshop could not start {', '.join(lab.services)}: {exc}")
        with running(lab, folder, must_start=False) as not_started:
            problems += not_started
            run_checks(lab, folder, on_event=checked, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - reported to the grader as grading that broke
        emit({"event": "lab-broken", "lab": lab.slug, "reason": f"{type(exc).__name__}: {exc}"[:2000]})
    finally:
        stop_lab()
        shutil.rmtree(scratch, ignore_errors=True)  # the sandbox's tmpfs is its memory
        emit({"event": "lab-end", "lab": lab.slug, "problems": problems})


def main() -> int:
    not_dumpable()
    job = json.loads(sys.stdin.readline())
    emit = Events(bytes.fromhex(job["key"]))
    sys.stdout = sys.stderr  # nothing but signed events goes to the real stdout
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
