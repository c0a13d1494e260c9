"""What the CLI and the TUI both do for a learner: resolve names, run checks, record progress, give hints.

One place, so that `workshop check` and the TUI's check panel can never disagree.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from workshop.checking.model import Check
from workshop.core.content import ContentError, Lab, Step, Workshop, load_workshop
from workshop.core.errors import UsageError
from workshop.core.locations import content_root, default_workspace
from workshop.core.progress import FAILING, NOT_STARTED, PASSED, Progress, ProgressStore, renamed
from workshop.core.verdict import Verdict
from workshop.core.workspace import migrate
from workshop.runs import room_events
from workshop.runs.checks import CheckRun, Listener, known_checks, run_checks


@dataclass
class Session:
    """A learner's workshop: the content, their workspace and their progress."""

    workshop: Workshop
    workspace: Path
    store: ProgressStore
    migrated: list[str] = field(default_factory=list)  # what moved when renumbered labs were carried over

    @classmethod
    def open(cls, content: str | None = None, workspace: str | None = None) -> Session:
        root = content_root(content)
        try:
            ws = load_workshop(root)
        except ContentError as exc:
            raise UsageError(f"the workshop content cannot be read: {exc}") from None
        if ws.problems and not ws.labs:
            raise UsageError(f"no lab of {root} can be read: {ws.problems[0]}")
        space = Path(workspace).expanduser().resolve() if workspace else default_workspace().resolve()
        session = cls(workshop=ws, workspace=space, store=ProgressStore(space))
        session.migrated = session._carry_over_renamed_labs()
        room_events.resume()  # checks still waiting for the room since the last run go on their way
        return session

    def _carry_over_renamed_labs(self) -> list[str]:
        """Labs renumbered since the learner began keep their folder and progress under the new name."""
        renames = {old: lab.slug for lab in self.workshop.labs for old in lab.formerly}
        if not renames:
            return []
        moved = migrate(self.workspace, self.workshop.labs) if self.workspace.is_dir() else []
        if renamed(self.progress(), dict(renames)):
            self.store.update(lambda p: renamed(p, renames))
            moved.append("your progress follows the labs' new numbers")
        return moved

    def resolve(self, ref: str) -> tuple[Lab, Step | None]:
        try:
            return self.workshop.resolve(ref)
        except LookupError as exc:
            raise UsageError(str(exc)) from None

    def lab_dir(self, lab: Lab) -> Path:
        return self.workspace / lab.slug

    def progress(self) -> Progress:
        return self.store.load()

    def check(self, lab: Lab, step: Step | None = None, on_event: Listener | None = None,
              timeout: float | None = None) -> CheckRun:
        folder = self.lab_dir(lab)
        if not folder.is_dir():
            raise UsageError(f"lab {lab.id} is not started in {self.workspace}: run `workshop start {lab.id}`")
        run = run_checks(lab, folder, [step.id] if step else None, on_event=on_event, timeout=timeout)

        def update(p: Progress) -> None:
            record(p, lab, run.verdicts)
            if step is None:  # after a whole-lab check, the learner is on the first step not yet passed
                p.current_lab = lab.slug
                p.current_step = next((s.id for s in lab.steps if p.status(lab.slug, s.id) != PASSED), lab.steps[-1].id)

        progress = self.store.update(update)
        room_events.report(lab, run.verdicts, progress)
        return run

    def planned_checks(self, lab: Lab, step: Step | None = None) -> list[Check]:
        """The checks a run will report, in the order it runs them, if they are known before it starts
        (from the last collection of an unchanged lab); otherwise none: the run's first event names them."""
        return [c for c in known_checks(lab) or [] if step is None or c.step == step.id]

    def next_hint(self, lab: Lab, step: Step) -> tuple[int, str] | None:
        """The next hint for this step (1-based number, text), or None when there are none."""
        if not step.hints:
            return None
        shown = {}

        def bump(p: Progress) -> None:
            sp = p.step(lab.slug, step.id)
            sp.hints_shown = min(sp.hints_shown + 1, len(step.hints))
            shown["n"] = sp.hints_shown

        self.store.update(bump)
        n = shown["n"]
        return n, step.hints[n - 1]

    def goto(self, lab: Lab, step: Step | None = None) -> None:
        def move(p: Progress) -> None:
            p.current_lab = lab.slug
            p.current_step = step.id if step else (lab.steps[0].id if lab.steps else "")

        self.store.update(move)


def record(progress: Progress, lab: Lab, verdicts: list[Verdict]) -> None:
    """Fold check verdicts into the learner's progress: a step passes when all its checks pass."""
    by_step: dict[str, list[Verdict]] = {}
    for v in verdicts:
        by_step.setdefault(v.step, []).append(v)
    now = time.time()
    for step_id, vs in by_step.items():
        sp = progress.step(lab.slug, step_id)
        for v in vs:
            sp.checks[v.name] = v.status
        sp.attempts += 1
        sp.updated = now
        failing = [v for v in vs if not v.passed]
        all_known_pass = all(s == PASSED for s in sp.checks.values())
        sp.status = PASSED if not failing and all_known_pass else FAILING
        sp.message = failing[0].message if failing else ""
    if not progress.current_lab:
        progress.current_lab = lab.slug


def step_status(progress: Progress, lab: Lab, step: Step) -> str:
    return progress.status(lab.slug, step.id) if lab.slug in progress.labs else NOT_STARTED
