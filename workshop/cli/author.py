"""`workshop selftest` and `workshop validate`: what a lab's author runs to prove the content right."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from workshop.cli import output
from workshop.cli.exit_codes import EXIT_FAILED, EXIT_OK
from workshop.core.locations import content_root
from workshop.core.verdict import FAILED, PASSED, Verdict


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    json_opt = output.json_option()
    help = "prove every check fails on its lab's starter and passes on its solution"
    p = sub.add_parser("selftest", help=help, description=help, parents=[common, json_opt])
    p.add_argument("labs", nargs="*", metavar="LAB", help="only these labs (e.g. 01 02 05); all labs when none is named")
    p.add_argument("--repeat", type=_positive, default=1, metavar="N",
                   help="check the solution N times (each on a fresh copy) and name any check whose verdict changes")
    p.add_argument("--backend", choices=("process", "docker"), help="run the lab's services as local processes or containers")
    p.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report")
    p.set_defaults(func=cmd_selftest)
    help = "lint the content: front matter, steps, checks, the chain of starters and solutions"
    p = sub.add_parser("validate", help=help, description=help, parents=[common, json_opt])
    p.add_argument("--drop-repeated", action="store_true",
                   help="first delete every starter or solution file that only repeats what the chain brings")
    p.set_defaults(func=cmd_validate)
    help = "scaffold a lab that continues the chain (lab.md, starter, solution, a check) and passes validate at once"
    p = sub.add_parser("new-lab", help=help, description=help, parents=[common])
    p.add_argument("name", metavar="NN-name", help="the lab's folder name, like 11-rate-limits")
    p.set_defaults(func=cmd_new_lab)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def cmd_selftest(args: argparse.Namespace) -> int:
    from workshop.checking import model
    from workshop.core import reports
    from workshop.runs.selftest import prove

    session = output.session(args)
    labs = [session.resolve(ref)[0] for ref in args.labs] if args.labs else session.workshop.labs
    if args.backend:
        os.environ["WORKSHOP_BACKEND"] = args.backend  # the services the checks ensure, and their children
    proofs = []
    live = not args.json and output.live()  # a line that says what runs now, on which side

    def show(side: str, event: model.Event) -> None:
        if isinstance(event, model.Started):
            output.live_line(f"  … on the {side}: {event.check.step}/{event.check.name}")

    for lab in labs:
        if not args.json:
            print(f"Lab {lab.id}: {lab.title}")
        proof = prove(lab, on_event=show if live else None, repeat=args.repeat)
        proofs.append(proof)
        if args.json:
            continue
        if live:
            output.live_line()
        for c in proof.checks:
            s = c.on_starter.status if c.on_starter else "not run"
            o = ", ".join(c.solution_statuses) if c.replays else c.on_solution.status if c.on_solution else "not run"
            print(f"  {output.mark(PASSED if c.ok else FAILED)} {c.step}/{c.name}: starter {s}, solution {o}")
            if not c.ok and c.on_solution and not c.on_solution.passed:
                print("      on the solution: " + c.on_solution.explain().replace("\n", "\n      "))
            elif c.flaky:  # the first replay that did not pass says why (none when a run did not reach it)
                for n, v in enumerate(c.replays, start=2):
                    if v is not None and not v.passed:
                        print(f"      on the solution, run {n}: " + v.explain().replace("\n", "\n      "))
                        break
        for problem in proof.problems:
            print(f"  {output.mark(FAILED)} {problem}")
    ok = all(p.ok for p in proofs)
    if args.junit:
        from pathlib import Path

        suites = []
        for p in proofs:
            vs = []
            for c in p.checks:
                status = PASSED if c.ok else FAILED
                msg = "" if c.ok else f"starter: {c.on_starter.status if c.on_starter else 'not run'}, solution: {c.on_solution.status if c.on_solution else 'not run'}"
                vs.append(Verdict(lab=p.lab.slug, step=c.step, name=c.name, nodeid=c.name, status=status, message=msg))
            suites.append((f"selftest {p.lab.slug}", vs))
        Path(args.junit).write_text(reports.junit_xml(suites, name="workshop selftest"))
    if args.json:
        output.print_json({"ok": ok, "labs": [{"lab": p.lab.slug, "ok": p.ok, "problems": p.problems, "checks": [
            {"step": c.step, "name": c.name, "ok": c.ok,
             "starter": c.on_starter.status if c.on_starter else None,
             "solution": c.on_solution.status if c.on_solution else None,
             "solution_runs": c.solution_statuses, "flaky": c.flaky} for c in p.checks]} for p in proofs]})
    else:
        print("\nselftest: " + ("every check fails on its starter and passes on its solution" if ok else "FAILED"))
    return EXIT_OK if ok else EXIT_FAILED


def cmd_validate(args: argparse.Namespace) -> int:
    from workshop.runs.validate import drop_repeated, validate

    root = content_root(args.content)
    if args.drop_repeated:
        for path in drop_repeated(root):
            print(f"deleted {path} (the chain brings it)", file=sys.stderr if args.json else sys.stdout)
    problems = validate(root)
    if args.json:
        output.print_json({"content": str(root), "ok": not problems, "problems": [{"where": p.where, "message": p.message} for p in problems]})
    else:
        for p in problems:
            print(p)
        print(f"{root}: " + ("content is valid" if not problems else f"{len(problems)} problem(s)"))
    return EXIT_OK if not problems else EXIT_FAILED


def cmd_new_lab(args: argparse.Namespace) -> int:
    from workshop.runs.newlab import new_lab

    root = content_root(args.content)
    made = new_lab(root, args.name)
    print(f"Lab {made.slug}: " + (f"continues {made.continues}" if made.continues else "the first lab (no chain before it)"))
    for path in made.written:
        print(f"  wrote {path.relative_to(root)}")
    print(f"Next: write the lab's text and its check, then `workshop validate` and `workshop selftest {made.slug[:2]}`")
    return EXIT_OK
