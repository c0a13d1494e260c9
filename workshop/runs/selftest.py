"""Prove the content: every check fails on its lab's starter and passes on its solution.

With ``repeat`` above 1 the solution is checked that many times, each on a fresh copy with its programs
started anew, and a check whose verdict changes from one run to the next is named: a flaky check is a
wrong verdict waiting to happen.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from workshop.checking import model
from workshop.core.chain import solution_files, starter_files, write_files
from workshop.core.content import Lab
from workshop.core.verdict import Verdict
from workshop.env import services
from workshop.env.learner import NotReady, running
from workshop.runs.checks import Listener, collect, run_checks


@dataclass
class CheckProof:
    name: str
    step: str
    on_starter: Verdict | None
    on_solution: Verdict | None
    replays: list[Verdict | None] = field(default_factory=list)  # the solution's verdicts of runs 2..N

    @property
    def flaky(self) -> bool:
        """Replayed on the solution, it did not give the same verdict every time."""
        statuses = {v.status if v else None for v in [self.on_solution, *self.replays]}
        return len(statuses) > 1

    @property
    def solution_statuses(self) -> list[str]:
        return [v.status if v else "not run" for v in [self.on_solution, *self.replays]]

    @property
    def ok(self) -> bool:
        return (self.on_starter is not None and not self.on_starter.passed
                and self.on_solution is not None and self.on_solution.passed and not self.flaky)


@dataclass
class LabProof:
    lab: Lab
    checks: list[CheckProof] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.checks) and all(c.ok for c in self.checks)


def prove(lab: Lab, on_event: Callable[[str, model.Event], None] | None = None, timeout: float | None = None,
          repeat: int = 1) -> LabProof:
    """Run the lab's checks on fresh copies of its starter and its solution (the solution ``repeat`` times)."""
    proof = LabProof(lab=lab)
    try:
        sides = _run_both(lab, on_event, timeout, max(1, repeat))
    except NotReady as exc:
        proof.problems.append(f"the solution's programs did not start: {exc}")
        return proof
    names = {n: v for side in sides.values() for n, v in side.items()}
    replays = [side for name, side in sides.items() if name.startswith("solution, run ")]
    for nodeid, v in names.items():
        proof.checks.append(CheckProof(v.name, v.step, sides["starter"].get(nodeid), sides["solution"].get(nodeid),
                                       [r.get(nodeid) for r in replays]))
    for c in proof.checks:
        if c.flaky:
            proof.problems.append(f"check {c.step}/{c.name} is flaky: on the solution, run after run, it gave "
                                  + ", ".join(c.solution_statuses))
    covered = {c.step for c in proof.checks}
    for step in lab.steps:
        if step.id not in covered:
            proof.problems.append(f"step {step.id!r} has no check that ran")
    if len(collect(lab).checks) != len(proof.checks):
        proof.problems.append("some checks were not collected: run `workshop validate`")
    return proof


def _run_both(lab: Lab, on_event: Callable[[str, model.Event], None] | None, timeout: float | None,
              repeat: int = 1) -> dict[str, dict[str, Verdict]]:
    """Verdicts by node id, for each side; what the learner keeps running is started as they would."""
    sides: dict[str, dict[str, Verdict]] = {}
    # The lab's services belong to this run: up before the checks, gone when it ends.
    previous = os.environ.get("WORKSHOP_SERVICES")
    os.environ["WORKSHOP_SERVICES"] = "owned"
    try:
        if lab.services:
            services.ensure(lab.services)
        _prove_sides(lab, on_event, timeout, sides, repeat)
    finally:
        services.stop_owned()
        if previous is None:
            os.environ.pop("WORKSHOP_SERVICES", None)
        else:
            os.environ["WORKSHOP_SERVICES"] = previous
    return sides


def _prove_sides(
    lab: Lab, on_event: Callable[[str, model.Event], None] | None, timeout: float | None, sides: dict[str, dict[str, Verdict]],
    repeat: int = 1,
) -> None:
    runs = [("starter", starter_files(lab)), ("solution", solution_files(lab))]
    runs += [(f"solution, run {n}", solution_files(lab)) for n in range(2, repeat + 1)]
    with tempfile.TemporaryDirectory(prefix=f"selftest-{lab.id}-") as tmp:
        for n, (side, files) in enumerate(runs):
            folder = write_files(files, Path(tmp) / str(n) / lab.slug)
            listener: Listener | None = (lambda e, s=side: on_event(s, e)) if on_event else None
            with running(lab, folder, must_start=side.startswith("solution")):
                run = run_checks(lab, folder, on_event=listener, timeout=timeout)
            sides[side] = {v.nodeid: v for v in run.verdicts}
