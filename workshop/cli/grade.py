"""`workshop grade`: the instructor's and the CI job's command."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

from workshop.cli.exit_codes import EXIT_BROKEN, EXIT_FAILED, EXIT_OK
from workshop.core.errors import UsageError

GRADE_HELP = """\
Grade submissions with the workshop's own checks (never with anything a submission carries).

A SUBMISSION is a workspace folder (one folder per lab, like ~/wasm-workshop), a git repository
(cloned; what is committed is graded) or a tarball (extracted safely). Each is graded in its own
copy; with --sandbox docker (the default when a Docker engine answers) in a container with no
network, no capabilities, CPU, memory and process limits, the checks read-only.

Exit status: 0 when every submission was graded, whatever its score (1 when --min-score is not met
by one of them); 3 when grading itself failed (the reason is printed); 2 for a usage error.

  workshop grade ~/class/* --jobs 4 --csv grades.csv
  workshop grade . --labs 01 --junit reports --markdown "$GITHUB_STEP_SUMMARY" --github --min-score 100

Past one machine: give every runner the same submissions and its own --shard I/N (a CI matrix), each
writing --json; then `workshop merge-grades shard-*.json` makes the one gradebook of the class.
  workshop grade ~/class/* --shard 2/4 --json shard-2.json
"""

MERGE_HELP = """\
Merge the JSON gradebooks of a class graded in shards (`workshop grade --shard I/N --json FILE` on
each runner) into the one gradebook a single run would have written, in the class's order, and write
its reports. Every part must be there once, graded with the same --labs and --sandbox.

Exit status as `workshop grade`: 0, 1 when --min-score is not met, 3 when a submission was not graded.

  workshop merge-grades shard-*.json --json grades.json --csv grades.csv --markdown "$GITHUB_STEP_SUMMARY"
"""

def add_parsers(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """`grade`, naming its handler."""
    common_parents = [common]
    fmt = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser("grade", help="grade submissions (folders, git repositories, tarballs) with the workshop's checks",
                              description=GRADE_HELP, formatter_class=fmt, parents=list(common_parents))
    p.add_argument("submissions", nargs="+", metavar="SUBMISSION")
    p.add_argument("--labs", metavar="IDS", help="labs to grade, like 01,02 (default: all)")
    p.add_argument("--jobs", "-j", type=int, default=1, metavar="N", help="grade N submissions at once (default 1)")
    p.add_argument("--sandbox", choices=("docker", "none"), help="docker (default when an engine answers) or none: on this host")
    _report_options(p)
    p.add_argument("--timeout", type=float, metavar="S", help="override every check's time limit, in seconds")
    p.add_argument("--time-limit", type=float, default=900.0, metavar="S", help="seconds for one lab of one submission (900)")
    p.add_argument("--memory", type=int, default=2048, metavar="MB", help="memory for each sandbox (2048)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines while grading")
    p.add_argument("--shard", metavar="I/N", help="grade only part I of N of the submissions (a CI matrix); merge with merge-grades")
    m = subparsers.add_parser("merge-grades", help="merge the JSON gradebooks of a class graded in shards into one",
                              description=MERGE_HELP, formatter_class=fmt, parents=list(common_parents))
    m.add_argument("gradebooks", nargs="+", metavar="FILE", help="each shard's `workshop grade --json` file")
    _report_options(m)
    m.set_defaults(func=cmd_merge_grades)
    p.set_defaults(func=cmd_grade)


def _report_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--junit", metavar="DIR", help="write JUnit XML, one file per submission, into DIR")
    p.add_argument("--json", metavar="FILE", help="write every verdict as JSON (- for stdout)")
    p.add_argument("--csv", metavar="FILE", help="write one row per learner for a gradebook (- for stdout)")
    p.add_argument("--markdown", metavar="FILE", help="write a Markdown summary (e.g. $GITHUB_STEP_SUMMARY)")
    p.add_argument("--github", action="store_true", help="print GitHub Actions ::error annotations for failing checks")
    p.add_argument("--min-score", type=float, metavar="PERCENT", help="exit 1 unless every submission scores at least PERCENT")


def _labs(workshop: Any, given: str | None) -> list[Any]:
    if not given:
        return list(workshop.labs)
    try:
        return [workshop.lab(ref) for ref in given.split(",") if ref.strip()]
    except LookupError as exc:
        raise UsageError(str(exc)) from None


class ProgressLines:
    """One line per event on stderr, with how many submissions are done."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.done, self.quiet = total, 0, quiet
        self.lock = threading.Lock()
        self.started = time.monotonic()

    def __call__(self, who: str, what: str) -> None:
        with self.lock:
            if what.startswith("done:"):
                self.done += 1
            if self.quiet and not what.startswith(("done:", "grading failed", "cannot be read")):
                return
            clock = f"{time.monotonic() - self.started:6.1f}s"
            print(f"{clock} [{self.done}/{self.total}] {who + ': ' if who else ''}{what}", file=sys.stderr, flush=True)


def cmd_grade(args: argparse.Namespace) -> int:
    from workshop.grading.grade import GradingError, grade
    from workshop.grading.job_runner import DOCKER, NONE, GradeOptions
    from workshop.grading.submission import SubmissionError, identify, unique_names
    from workshop.runs.session import Session

    workshop = Session.open(getattr(args, "content", None), None).workshop
    labs = _labs(workshop, args.labs)
    if args.jobs < 1:
        raise UsageError("--jobs must be 1 or more")
    try:
        submissions = [identify(s) for s in args.submissions]
    except SubmissionError as exc:
        raise UsageError(str(exc)) from None
    unique_names(submissions)
    class_size, shard = len(submissions), None
    if args.shard:
        from workshop.grading.shards import Shard, ShardError

        try:
            shard = Shard.parse(args.shard)
        except ShardError as exc:
            raise UsageError(str(exc)) from None
        submissions = [submissions[n] for n in shard.positions(class_size)]
    sandbox = args.sandbox
    if sandbox is None:
        from workshop.env.sandbox import engine_answers

        if not engine_answers():
            raise UsageError("no Docker engine answers, so there is no sandbox: start dockerd, or pass --sandbox none "
                         "to run the submissions' code on this host")
        sandbox = DOCKER
    options = GradeOptions(labs=labs, jobs=args.jobs, sandbox=sandbox if sandbox == DOCKER else NONE,
                           timeout=args.timeout, lab_time_limit=args.time_limit, memory_mb=args.memory)
    say = ProgressLines(len(submissions), args.quiet)
    try:
        grades = grade(workshop, submissions, options, say)
    except GradingError as exc:
        print(f"workshop grade: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    extra: dict[str, Any] = {"shard": shard.describe(class_size)} if shard else {}
    return _reports(grades, labs, args, {"sandbox": options.sandbox, "labs": [lab.slug for lab in labs], **extra})


def _reports(grades: list[Any], labs: list[Any], args: argparse.Namespace, head: dict[str, Any]) -> int:
    """The table, the reports asked for, and the exit status, for a grading run or a merge of shards."""
    from workshop.grading import gradebook

    print(gradebook.table(grades, labs))
    if args.junit:
        gradebook.junit_files(grades, Path(args.junit))
    if args.json:
        gradebook.write(args.json, gradebook.to_json(grades, **head))
    if args.csv:
        gradebook.write(args.csv, gradebook.to_csv(grades, labs))
    if args.markdown:
        gradebook.write(args.markdown, gradebook.markdown(grades, labs))
    if args.github:
        for line in gradebook.github_annotations(grades, labs):
            print(line)
    broken = [g for g in grades if g.broken]
    if broken:
        for g in broken:
            print(f"workshop grade: {g.name} was not graded: {g.broken}", file=sys.stderr)
        return EXIT_BROKEN
    if args.min_score is not None:
        low = [g for g in grades if g.percent < args.min_score]
        if low:
            names = ", ".join(f"{g.name} ({g.percent:g}%)" for g in low)
            print(f"workshop grade: below --min-score {args.min_score:g}%: {names}", file=sys.stderr)
            return EXIT_FAILED
    return EXIT_OK


def cmd_merge_grades(args: argparse.Namespace) -> int:
    from workshop.grading.shards import ShardError, merge, read
    from workshop.runs.session import Session

    try:
        head, grades = merge([(name, read(Path(name))) for name in args.gradebooks])
    except ShardError as exc:
        raise UsageError(str(exc)) from None
    workshop = Session.open(getattr(args, "content", None), None).workshop
    labs = _labs(workshop, ",".join(head.get("labs") or []) or None)
    return _reports(grades, labs, args, head)

