"""The learner's commands: list, start, check, hint, solve, reset, serve, and the app itself."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from workshop.cli import output
from workshop.cli.exit_codes import EXIT_BROKEN, EXIT_FAILED, EXIT_OK
from workshop.core.errors import UsageError
from workshop.core.verdict import PASSED
from workshop.tui.serve import serve

if TYPE_CHECKING:
    from workshop.core.verdict import Verdict


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    json_opt = output.json_option()

    def cmd(name: str, help: str, func: Any, *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, parents=[common, *parents])
        p.set_defaults(func=func)
        return p

    cmd("list", "list the labs, their steps and your status on each", cmd_list, json_opt)
    p = cmd("start", "make a lab's folder from its starter (keeps files you already have); catches a late joiner up",
            cmd_start, json_opt)
    p.add_argument("lab", help="lab id, like 01 or 01-first-filter")
    p = cmd("check", "run checks against your work and print one verdict per check", cmd_check, json_opt)
    p.add_argument("target", nargs="?", metavar="LAB[/STEP]", help="what to check (default: the lab you are on)")
    p.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report")
    p.add_argument("--timeout", type=float, metavar="S", help="override every check's time limit, in seconds")
    p = cmd("hint", "show one more hint for a step each time you ask", cmd_hint, json_opt)
    p.add_argument("target", nargs="?", metavar="LAB/STEP", help="the step (default: the step you are on)")
    p = cmd("solve", "put a lab's solution in your folder (your files are backed up first)", cmd_solve, json_opt)
    p.add_argument("lab")
    p.add_argument("--diff", action="store_true", help="only show what would change")
    p = cmd("reset", "put the starter back for a lab or one step (your files are backed up first)", cmd_reset, json_opt)
    p.add_argument("target", metavar="LAB[/STEP]")
    p = cmd("serve", "serve the workshop app to a browser (textual-serve), on 127.0.0.1 unless told otherwise", cmd_serve)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")

def open_app(args: argparse.Namespace) -> int:
    session = output.session(args)
    from workshop.tui.app import run_app

    return run_app(session)


def cmd_list(args: argparse.Namespace) -> int:
    from workshop.runs.session import step_status

    session = output.session(args)
    progress = session.progress()
    labs = []
    for lab in session.workshop.labs:
        steps = [{"id": s.id, "title": s.title, "status": step_status(progress, lab, s)} for s in lab.steps]
        labs.append({"id": lab.id, "slug": lab.slug, "title": lab.title, "minutes": lab.minutes,
                     "started": session.lab_dir(lab).is_dir(), "steps": steps})
    if args.json:
        output.print_json({"workspace": str(session.workspace), "current": progress.current_lab, "labs": labs})
        return EXIT_OK
    print(f"Workspace: {session.workspace}\n")
    for lab in labs:
        done = sum(s["status"] == PASSED for s in lab["steps"])
        here = "▶ " if lab["slug"] == progress.current_lab else "  "
        print(f"{here}{lab['id']}  {lab['title']}  ({done}/{len(lab['steps'])} steps, ~{lab['minutes']} min)")
        for s in lab["steps"]:
            print(f"      {output.mark(s['status'])} {s['id']:<12} {s['title']}")
    return EXIT_OK


def cmd_start(args: argparse.Namespace) -> int:
    from workshop.core import workspace as ws

    session = output.session(args)
    lab, _ = session.resolve(args.lab)
    session.workspace.mkdir(parents=True, exist_ok=True)
    change = ws.start(session.workspace, lab)
    session.goto(lab)
    if args.json:
        output.print_json({"lab": lab.slug, "folder": str(change.lab_dir), "written": change.written, "kept": change.kept})
        return EXIT_OK
    print(f"Lab {lab.id}: {lab.title}\nYour folder: {change.lab_dir}")
    if change.written:
        print(f"  new files: {', '.join(change.written)}")
    if change.kept:
        print(f"  kept your files: {', '.join(change.kept)}")
    print(f"\nNext: read the lab (`workshop` opens it), then `workshop check {lab.id}`.")
    return EXIT_OK


def _print_verdict(v: Verdict, verbose: bool) -> None:
    print(f"  {output.mark(v.status)} {v.step}/{v.name}  {output.color('dim', f'({v.seconds:.1f} s)')}")
    if not v.passed:
        for line in v.explain().splitlines():
            print(f"      {line}")
    for line in v.note.splitlines():
        print(f"      {output.color('dim', 'note    : ' + line)}")
    if verbose and v.output:
        print("      ── captured output ──")
        for line in v.output.splitlines()[-60:]:
            print(f"      │ {line}")
    if verbose and v.traceback:
        print(v.traceback)


def cmd_check(args: argparse.Namespace) -> int:
    from workshop.checking import model
    from workshop.core import reports
    from workshop.runs import checks

    checks.prewarm()  # Python and pytest load in the check process while we read the content
    session = output.session(args)
    target = args.target or session.progress().current_lab
    if not target:
        raise UsageError("name a lab to check, like `workshop check 01` (no lab is started yet)")
    lab, step = session.resolve(target)
    if not args.json:
        print(f"Checking lab {lab.id}{'/' + step.id if step else ''}: {lab.title}")

    live = not args.json and output.live()  # a line that says what runs now, replaced by its verdict

    def show(event: model.Event) -> None:
        if args.json:
            return
        if isinstance(event, model.Started) and live:
            output.live_line(f"  … {event.check.step}/{event.check.name}  {output.color('dim', '(running)')}")
        elif isinstance(event, model.Finished):
            if live:
                output.live_line()
            _print_verdict(event.verdict, bool(getattr(args, "verbose", False)))

    try:
        run = session.check(lab, step, on_event=show, timeout=args.timeout)
    except RuntimeError as exc:
        print(f"workshop: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    if args.junit:
        from pathlib import Path

        Path(args.junit).write_text(reports.junit_xml([(lab.slug, run.verdicts)]))
    counts = reports.summary(run.verdicts)
    if args.json:
        print(reports.to_json(run.verdicts, lab=lab.slug, workspace=str(session.workspace), seconds=round(run.seconds, 2)))
    else:
        print(f"\n{counts['passed']} passed, {counts['checks'] - counts['passed']} failed  ({run.seconds:.1f} s)")
        if run.passed and not step:
            nxt = next((lb for lb in session.workshop.labs if lb.id > lab.id), None)
            print(f"Lab {lab.id} is done." + (f" Next: `workshop start {nxt.id}` ({nxt.title})." if nxt else ""))
        from workshop.runs.room_events import waiting_note

        if note := waiting_note():
            print(note)
    return EXIT_OK if run.passed else EXIT_FAILED


def cmd_hint(args: argparse.Namespace) -> int:
    session = output.session(args)
    progress = session.progress()
    target = args.target or (f"{progress.current_lab}/{progress.current_step}" if progress.current_lab else "")
    if not target:
        raise UsageError("name a step, like `workshop hint 01/build`")
    lab, step = session.resolve(target)
    if step is None:
        step = lab.steps[0]
    hint = session.next_hint(lab, step)
    if args.json:
        output.print_json({"lab": lab.slug, "step": step.id, "number": hint[0] if hint else 0,
                     "of": len(step.hints), "hint": hint[1] if hint else ""})
        return EXIT_OK
    if hint is None:
        print(f"Step {lab.id}/{step.id} has no hints. Read the step again, or `workshop solve {lab.id} --diff`.")
        return EXIT_OK
    n, text = hint
    print(f"Hint {n} of {len(step.hints)} for {lab.id}/{step.id}:\n")
    print("  " + text.replace("\n", "\n  "))
    if n == len(step.hints):
        print(f"\nThat was the last hint. `workshop solve {lab.id} --diff` shows the solution.")
    return EXIT_OK


def _put(args: argparse.Namespace, which: str) -> int:
    from workshop.core import workspace as ws
    from workshop.core.chain import solution_files, starter_files

    session = output.session(args)
    lab, step = session.resolve(args.lab if which == "solution" else args.target)
    source = solution_files(lab) if which == "solution" else starter_files(lab)
    if which == "solution" and args.diff:
        print(ws.diff(session.workspace, lab, source) or "Your files already match the solution.")
        return EXIT_OK
    only = None
    if step is not None:
        only = lab.files.get(step.id)
        if not only:
            raise UsageError(f"step {lab.id}/{step.id} names no files to reset; reset the whole lab with `workshop reset {lab.id}`")
    change = ws.put(session.workspace, lab, source, reason="solve" if which == "solution" else "reset", only=only)
    session.goto(lab, step)
    if args.json:
        output.print_json({"lab": lab.slug, "folder": str(change.lab_dir), "written": change.written,
                     "unchanged": change.kept, "backup": str(change.backup) if change.backup else None})
        return EXIT_OK
    what = "solution" if which == "solution" else "starter"
    print(f"Put the {what} of lab {lab.id}{'/' + step.id if step else ''} in {change.lab_dir}")
    print(f"  written: {', '.join(change.written) or 'nothing (already the same)'}")
    if change.backup:
        print(f"  your previous files are in {change.backup}")
    return EXIT_OK


def cmd_solve(args: argparse.Namespace) -> int:
    return _put(args, "solution")


def cmd_reset(args: argparse.Namespace) -> int:
    return _put(args, "starter")


def cmd_serve(args: argparse.Namespace) -> int:
    from workshop.env.http import port_free

    if not port_free(args.port, args.host):
        raise UsageError(f"port {args.port} on {args.host} is taken: choose another with --port N")
    print(f"Serving the workshop at http://{args.host}:{args.port} (Ctrl-C stops it)")
    serve(args.host, args.port, content=args.content, workspace=args.workspace)
    return EXIT_OK
