"""The `workshop` command. Imports are lazy: `workshop --help` must answer in well under 300 ms."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workshop.core.session import Session
    from workshop.core.verdict import Verdict

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BROKEN = 0, 1, 2, 3
# commands whose handler lives in another module (imported only when that command runs)
HANDLERS = {
    "env": "workshop.cli_env", "mesh": "workshop.cli_mesh", "grade": "workshop.cli_grade", "room": "workshop.cli_grade",
    "selftest": "workshop.cli_author", "validate": "workshop.cli_author",
    "doctor": "workshop.cli_setup", "prepare": "workshop.cli_setup", "shellenv": "workshop.cli_setup",
}

DESCRIPTION = """\
Hands-on labs on extending Envoy and Istio with WebAssembly, checked live against real software.

With no command, opens the workshop app. Typical session:
  workshop start 01          make your folder for lab 01 (in ~/wasm-workshop)
  workshop check 01          run the lab's checks against your work
  workshop hint 01/build     one more hint for a step
"""


def _color(code: str, text: str) -> str:
    if os.environ.get("NO_COLOR") or not sys.stdout.isatty():
        return text
    return f"\033[{code}m{text}\033[0m"


MARKS = {"passed": ("32", "✓"), "failed": ("31", "✗"), "error": ("35", "!"), "timed out": ("33", "⏱"), "skipped": ("2", "-")}


def build_parser() -> argparse.ArgumentParser:
    def where(default: object) -> argparse.ArgumentParser:
        # Given before or after the command; SUPPRESS keeps a subcommand from erasing the earlier value.
        p = argparse.ArgumentParser(add_help=False)
        p.add_argument("--content", metavar="DIR", default=default,
                       help="run another workshop folder (with labs/, solutions/, checks/)")
        p.add_argument("--workspace", metavar="DIR", default=default,
                       help="your workspace, one folder per lab (default: $WORKSHOP_WORKSPACE or ~/wasm-workshop)")
        p.add_argument("--verbose", "-v", action="store_true", default=default,
                       help="show more: each check's captured output, and the traceback behind an error")
        return p

    common = where(argparse.SUPPRESS)
    json_opt = argparse.ArgumentParser(add_help=False)
    json_opt.add_argument("--json", action="store_true", help="print JSON for machines")

    parser = argparse.ArgumentParser(prog="workshop", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter, parents=[where(None)])
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def cmd(name: str, help: str, *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, parents=[common, *parents])

    cmd("list", "list the labs, their steps and your status on each", json_opt)
    p = cmd("start", "make a lab's folder from its starter (keeps files you already have); catches a late joiner up", json_opt)
    p.add_argument("lab", help="lab id, like 01 or 01-first-filter")
    p = cmd("check", "run checks against your work and print one verdict per check", json_opt)
    p.add_argument("target", nargs="?", metavar="LAB[/STEP]", help="what to check (default: the lab you are on)")
    p.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report")
    p.add_argument("--timeout", type=float, metavar="S", help="override every check's time limit, in seconds")
    p = cmd("hint", "show one more hint for a step each time you ask", json_opt)
    p.add_argument("target", nargs="?", metavar="LAB/STEP", help="the step (default: the step you are on)")
    p = cmd("solve", "put a lab's solution in your folder (your files are backed up first)", json_opt)
    p.add_argument("lab")
    p.add_argument("--diff", action="store_true", help="only show what would change")
    p = cmd("reset", "put the starter back for a lab or one step (your files are backed up first)", json_opt)
    p.add_argument("target", metavar="LAB[/STEP]")
    p = cmd("selftest", "prove every check fails on its lab's starter and passes on its solution", json_opt)
    p.add_argument("lab", nargs="?", help="only this lab")
    p.add_argument("--backend", choices=("process", "docker"), help="run the lab's services as local processes or containers")
    p.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report")
    cmd("validate", "lint the content: front matter, steps, checks, starter and solution", json_opt)
    cmd("doctor", "check the tools the labs need, and say how to fix what is missing", json_opt)
    cmd("prepare", "download and install what the labs need, so the workshop then runs offline")
    p = cmd("shellenv", "print the exports that give your shell the workshop's tools (run: eval \"$(workshop shellenv)\")",
            json_opt)
    from workshop.cli_env import add_env_parser
    from workshop.cli_grade import add_grade_parsers
    from workshop.cli_mesh import add_mesh_parser

    add_env_parser(sub, [common])
    add_mesh_parser(sub, [common])
    add_grade_parsers(sub, [common])
    p = cmd("serve", "serve the workshop app to a browser (textual-serve), on 127.0.0.1 unless told otherwise")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from workshop import __version__

        print(f"workshop {__version__}")
        return EXIT_OK
    from workshop.core.errors import WorkshopError, explain, friendly

    verbose = bool(getattr(args, "verbose", False))
    try:
        if args.command is None:
            return _open_app(args)
        module = importlib.import_module(HANDLERS.get(args.command, __name__))
        return int(getattr(module, f"cmd_{args.command}")(args))
    except WorkshopError as exc:
        _show_error(explain(exc), verbose)
        return EXIT_USAGE if _is_usage(exc) else EXIT_BROKEN
    except KeyboardInterrupt:
        print("workshop: interrupted; everything it started has been stopped", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `workshop list | head`: the reader has gone; nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except (OSError, RuntimeError) as exc:  # the machine said no (a tool, a file, a port): still one sentence
        _show_error(friendly(exc), verbose)
        return EXIT_BROKEN


def _is_usage(exc: BaseException) -> bool:
    """The command line itself was wrong (exit 2), rather than something it needed (exit 3)."""
    from workshop.core.session import UserError
    from workshop.env.services import UsageError

    return isinstance(exc, (UserError, UsageError))


def _show_error(text: str, verbose: bool) -> None:
    """One error, in plain words; with --verbose, the traceback that led to it first."""
    if verbose:
        import traceback

        traceback.print_exc()
    print(f"workshop: {text}", file=sys.stderr)


def _session(args: argparse.Namespace) -> Session:
    from workshop.core.session import Session

    session = Session.open(args.content, args.workspace)
    for problem in session.workshop.problems:
        print(f"workshop: left out a lab that cannot be read: {problem} (see `workshop validate`)", file=sys.stderr)
    return session


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _open_app(args: argparse.Namespace) -> int:
    session = _session(args)
    from workshop.tui.app import run_app

    return run_app(session)


def cmd_list(args: argparse.Namespace) -> int:
    from workshop.core.session import step_status

    session = _session(args)
    progress = session.progress()
    labs = []
    for lab in session.workshop.labs:
        steps = [{"id": s.id, "title": s.title, "status": step_status(progress, lab, s)} for s in lab.steps]
        labs.append({"id": lab.id, "slug": lab.slug, "title": lab.title, "minutes": lab.minutes,
                     "started": session.lab_dir(lab).is_dir(), "steps": steps})
    if args.json:
        _print_json({"workspace": str(session.workspace), "current": progress.current_lab, "labs": labs})
        return EXIT_OK
    print(f"Workspace: {session.workspace}\n")
    for lab in labs:
        done = sum(s["status"] == "passed" for s in lab["steps"])
        here = "▶ " if lab["slug"] == progress.current_lab else "  "
        print(f"{here}{lab['id']}  {lab['title']}  ({done}/{len(lab['steps'])} steps, ~{lab['minutes']} min)")
        for s in lab["steps"]:
            code, mark = MARKS.get(s["status"], ("2", "·"))
            print(f"      {_color(code, mark) if s['status'] != 'not started' else '·'} {s['id']:<12} {s['title']}")
    return EXIT_OK


def cmd_start(args: argparse.Namespace) -> int:
    from workshop.core import workspace as ws

    session = _session(args)
    lab, _ = session.resolve(args.lab)
    session.workspace.mkdir(parents=True, exist_ok=True)
    change = ws.start(session.workspace, lab)
    session.goto(lab)
    if args.json:
        _print_json({"lab": lab.slug, "folder": str(change.lab_dir), "written": change.written, "kept": change.kept})
        return EXIT_OK
    print(f"Lab {lab.id}: {lab.title}\nYour folder: {change.lab_dir}")
    if change.written:
        print(f"  new files: {', '.join(change.written)}")
    if change.kept:
        print(f"  kept your files: {', '.join(change.kept)}")
    print(f"\nNext: read the lab (`workshop` opens it), then `workshop check {lab.id}`.")
    return EXIT_OK


def _print_verdict(v: Verdict, verbose: bool) -> None:
    code, mark = MARKS.get(v.status, ("0", "?"))
    print(f"  {_color(code, mark)} {v.step}/{v.name}  {_color('2', f'({v.seconds:.1f} s)')}")
    if not v.passed:
        for line in v.explain().splitlines():
            print(f"      {line}")
    for line in v.note.splitlines():
        print(f"      {_color('2', 'note    : ' + line)}")
    if verbose and v.output:
        print("      ── captured output ──")
        for line in v.output.splitlines()[-60:]:
            print(f"      │ {line}")
    if verbose and v.traceback:
        print(v.traceback)


def cmd_check(args: argparse.Namespace) -> int:
    from workshop.core import reports, runner
    from workshop.core.verdict import Verdict

    runner.prewarm()  # Python and pytest load in the check process while we read the content
    session = _session(args)
    target = args.target or session.progress().current_lab
    if not target:
        raise _usage("name a lab to check, like `workshop check 01` (no lab is started yet)")
    lab, step = session.resolve(target)
    if not args.json:
        print(f"Checking lab {lab.id}{'/' + step.id if step else ''}: {lab.title}")

    live = not args.json and sys.stdout.isatty()  # a line that says what runs now, replaced by its verdict

    def show(event: dict) -> None:
        if args.json:
            return
        if event["event"] == "start" and live:
            print(f"\r\033[K  … {event['step']}/{event['name']}  "
                  f"{_color('2', '(running)')}", end="", flush=True)
        elif event["event"] == "result":
            if live:
                print("\r\033[K", end="")
            _print_verdict(Verdict.from_dict(event["verdict"]), bool(getattr(args, "verbose", False)))

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
    return EXIT_OK if run.passed else EXIT_FAILED


def _usage(message: str) -> Exception:
    from workshop.core.session import UserError

    return UserError(message)


def cmd_hint(args: argparse.Namespace) -> int:
    session = _session(args)
    progress = session.progress()
    target = args.target or (f"{progress.current_lab}/{progress.current_step}" if progress.current_lab else "")
    if not target:
        raise _usage("name a step, like `workshop hint 01/build`")
    lab, step = session.resolve(target)
    if step is None:
        step = lab.steps[0]
    hint = session.next_hint(lab, step)
    if args.json:
        _print_json({"lab": lab.slug, "step": step.id, "number": hint[0] if hint else 0,
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

    session = _session(args)
    lab, step = session.resolve(args.lab if which == "solution" else args.target)
    source = lab.solution_dir if which == "solution" else lab.starter_dir
    if which == "solution" and args.diff:
        print(ws.diff(session.workspace, lab, source) or "Your files already match the solution.")
        return EXIT_OK
    only = None
    if step is not None:
        only = lab.files.get(step.id)
        if not only:
            raise _usage(f"step {lab.id}/{step.id} names no files to reset; reset the whole lab with `workshop reset {lab.id}`")
    change = ws.put(session.workspace, lab, source, reason="solve" if which == "solution" else "reset", only=only)
    session.goto(lab, step)
    if args.json:
        _print_json({"lab": lab.slug, "folder": str(change.lab_dir), "written": change.written,
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
    from workshop.tui.serve import serve

    if not port_free(args.port, args.host):
        raise _usage(f"port {args.port} on {args.host} is taken: choose another with --port N")
    print(f"Serving the workshop at http://{args.host}:{args.port} (Ctrl-C stops it)")
    serve(args.host, args.port, content=args.content, workspace=args.workspace)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
