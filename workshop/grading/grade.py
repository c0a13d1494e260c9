"""Grade submissions: the workshop's own checks against each learner's copy, in parallel, in a sandbox.

Each submission is copied, then graded by one job process (``workshop.grading.job_process``): in a Docker
container (``sandbox="docker"``) or on this host (``sandbox="none"``). The job signs what it reports;
what it reports is folded into the checks this grader collected itself from the content, so the
points always come from the workshop, and a check that never reported counts as failed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workshop.checking.model import Check
from workshop.core import chain
from workshop.core.content import Lab, Workshop
from workshop.core.errors import WorkshopError
from workshop.core.locations import cache_dir
from workshop.core.verdict import ERROR, FAILED, TIMED_OUT, Verdict
from workshop.env import sandbox, supervisor
from workshop.env.http import port_free
from workshop.env.services import Ports
from workshop.env.services.catalog import resolve
from workshop.grading.job_runner import DOCKER, GradeOptions, JobOutcome, run_job, stop_all
from workshop.grading.submission import Submission, SubmissionError, materialize
from workshop.runs.checks import collect

Progress = Callable[[str, str], None]  # (learner, what happened)


class GradingError(WorkshopError):
    """Grading itself cannot go on (not the submission's fault); the message says how to fix it."""


@dataclass
class LabGrade:
    lab: str
    verdicts: list[Verdict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what the learner keeps running and did not start
    submitted: bool = True

    @property
    def points(self) -> int:
        return sum(v.points for v in self.verdicts if v.passed)

    @property
    def max_points(self) -> int:
        return sum(v.points for v in self.verdicts)


@dataclass
class SubmissionGrade:
    submission: Submission
    labs: list[LabGrade] = field(default_factory=list)
    problem: str = ""  # the submission could not be read: it scores 0
    broken: str = ""  # grading itself failed: no score
    forged_lines: int = 0  # output lines that claimed to be results but were not signed by the grader
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return self.submission.name

    @property
    def points(self) -> int:
        return sum(lab.points for lab in self.labs)

    @property
    def max_points(self) -> int:
        return sum(lab.max_points for lab in self.labs)

    @property
    def percent(self) -> float:
        return round(100.0 * self.points / self.max_points, 1) if self.max_points else 0.0

    @property
    def verdicts(self) -> list[Verdict]:
        return [v for lab in self.labs for v in lab.verdicts]


def holds_fixed_ports(lab: Lab) -> bool:
    """Labs whose services or learner programs listen on fixed ports (Envoy on 9901/10000, httpbin on 8080)."""
    return bool(lab.services) or any(run.ready for run in lab.runs)


def fixed_ports(lab: Lab) -> dict[int, str]:
    """The ports on 127.0.0.1 that the lab's services and the learner's kept-running programs listen on."""
    from urllib.parse import urlsplit

    ports = Ports.from_env()
    services = resolve(lab.services) if lab.services else []
    found = {port: service.name for service in services for port in service.port_map(ports).values()}
    for run in lab.runs:
        if run.ready and urlsplit(run.ready).port:
            found[int(urlsplit(run.ready).port or 0)] = f"`{' '.join(run.command)}`"
    return found


def check_host_ports(labs: list[Lab]) -> None:
    """On this host, the labs' fixed ports must be free before grading starts (not the submissions' fault)."""
    for lab in labs:
        for port, who in sorted(fixed_ports(lab).items()):
            if not port_free(port):
                raise GradingError(f"port {port} on 127.0.0.1, which lab {lab.id} needs for {who}, is in use: stop "
                                   "what uses it (`workshop env down`), or grade in containers with --sandbox docker")


def catalog(lab: Lab) -> list[Check]:
    """The lab's checks, collected here from the workshop's own files (never from a submission)."""
    found = collect(lab)
    if found.problem or not found.checks:
        raise GradingError(f"the checks of lab {lab.id} cannot be collected: run `workshop validate`\n{found.problem[-800:]}")
    return found.checks


def grade(workshop: Workshop, submissions: list[Submission], options: GradeOptions,
          on_progress: Progress | None = None) -> list[SubmissionGrade]:
    """Grade every submission; raises GradingError only when nothing can be graded at all."""
    say = on_progress or (lambda who, what: None)
    with ThreadPoolExecutor(max_workers=4) as pool:  # one pytest --collect-only each, side by side
        expected = dict(zip([lab.slug for lab in options.labs], pool.map(catalog, options.labs)))
    sandbox_plan = _sandbox_setup(workshop, options, say)
    if sandbox_plan is None:
        check_host_ports(options.labs)
    fixed_lock = threading.Lock()
    work = Path(tempfile.mkdtemp(prefix="workshop-grade-"))
    try:
        def one(sub: Submission) -> SubmissionGrade:
            return _grade_one(sub, work / f"{len(sub.name)}-{sub.name}", expected, options, sandbox_plan, fixed_lock, say)

        with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
            try:
                return list(pool.map(one, submissions))
            except BaseException:  # Ctrl-C: stop every job so the workers end now
                pool.shutdown(wait=False, cancel_futures=True)
                stop_all()
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _sandbox_setup(workshop: Workshop, options: GradeOptions, say: Progress) -> dict[str, Any] | None:
    if options.sandbox != DOCKER:
        return None
    if not sandbox.engine_answers():
        raise GradingError("no Docker engine answers here: start dockerd, or grade on this host with --sandbox none")
    supervisor.reap()  # grading containers whose grader crashed
    say("", "preparing the sandbox (image and Go build cache; once per machine)")
    try:
        sandbox.ensure_image()
        # One seed for the whole workshop, whichever labs are graded: it is built once, not once per --labs.
        seeds = Path(os.environ.get("WORKSHOP_GRADE_SEEDS") or cache_dir() / "grade-seeds")
        seed = sandbox.seed_gocache(chain.go_solutions(workshop), seeds)
        return {"plan": sandbox.plan(workshop.root, seed)}
    except sandbox.SandboxError as exc:
        raise GradingError(str(exc)) from None


def _grade_one(sub: Submission, work: Path, expected: dict[str, list[Check]], options: GradeOptions,
               sandbox_plan: dict[str, Any] | None, fixed_lock: threading.Lock, say: Progress) -> SubmissionGrade:
    started = time.monotonic()
    result = SubmissionGrade(submission=sub)
    slugs = [lab.slug for lab in options.labs]
    try:
        workspace = materialize(sub, work / "copy", slugs)
    except SubmissionError as exc:
        result.problem = str(exc)
        result.labs = [_fold(slug, expected[slug], None, str(exc)) for slug in slugs]
        say(sub.name, f"cannot be read: {exc}")
        return result
    for path in [workspace, *workspace.rglob("*")]:  # the sandbox user reads the copy
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0))
    say(sub.name, f"grading {', '.join(slugs)} ({options.sandbox} sandbox)")
    groups = [options.labs]
    if sandbox_plan is None and options.jobs > 1:  # on the host, labs on fixed ports take turns
        groups = [[lab for lab in options.labs if not holds_fixed_ports(lab)], [lab for lab in options.labs if holds_fixed_ports(lab)]]
    for group in (g for g in groups if g):
        lock = fixed_lock if sandbox_plan is None and options.jobs > 1 and holds_fixed_ports(group[0]) else None
        if lock:
            lock.acquire()
        try:
            outcome = run_job(workspace, [lab.slug for lab in group], work, options, sandbox_plan,
                              lambda event: _tell(sub.name, event, say))
        finally:
            if lock:
                lock.release()
        result.forged_lines += outcome.forged
        if outcome.broken:
            result.broken = outcome.broken
            say(sub.name, f"grading failed: {outcome.broken}")
        for lab in group:
            result.labs.append(_fold(lab.slug, expected[lab.slug], outcome, outcome.ended_early))
    result.labs.sort(key=lambda grade: slugs.index(grade.lab))  # the content's order, whatever took turns
    if result.forged_lines:
        say(sub.name, f"{result.forged_lines} line(s) of forged results were ignored")
    result.seconds = round(time.monotonic() - started, 2)
    say(sub.name, f"done: {result.points}/{result.max_points} points ({result.seconds:.0f} s)")
    return result


def _tell(who: str, event: dict[str, Any], say: Progress) -> None:
    if event.get("event") == "result":
        v = event["verdict"]
        say(who, f"{v.get('lab', '')[:2]} {v.get('status')}: {v.get('step')}/{v.get('name')}")


def _fold(slug: str, checks: list[Check], outcome: JobOutcome | None, why_missing: str) -> LabGrade:
    """One verdict per expected check: the job's, or a failing one saying why it never came."""
    grade = LabGrade(lab=slug)
    got: dict[str, Verdict] = {}
    if outcome is not None:
        grade.submitted = outcome.submitted.get(slug, False)
        grade.problems = outcome.problems.get(slug, [])
        got = outcome.verdicts.get(slug, {})
    broken = outcome.lab_broken.get(slug, "") if outcome else ""
    for check in checks:
        v = got.get(check.nodeid)
        if v is None:
            status = TIMED_OUT if outcome is not None and outcome.timed_out else (FAILED if outcome is None else ERROR)
            v = check.verdict(status, broken or why_missing or "this check never reported a result")
        v.points = check.points  # points come from the workshop, never from the job
        grade.verdicts.append(v)
    return grade
