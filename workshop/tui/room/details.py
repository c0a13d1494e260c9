"""The selected learner: where they are, their whole last failing message, and every step they touched."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from workshop.core.verdict import MARKS
from workshop.room import roster
from workshop.tui.room.reading import Learner

# Marks carry the meaning, so it survives NO_COLOR.


def describe(learner: Learner) -> Text:
    """Plain Text, never markup: messages come from learners' code and may hold brackets."""
    seat, progress = learner.seat, learner.progress
    text = Text()
    text.append(seat.learner, style="bold")
    text.append(f"  lab {seat.lab or '-'}, step {seat.step or '-'}\n")
    state = [seat.status]
    if seat.attempts:
        state.append(f"{seat.attempts} {'try' if seat.attempts == 1 else 'tries'}")
    if seat.stuck_seconds > 0:
        state.append(f"stuck for {roster.duration(seat.stuck_seconds)}")
    text.append(", ".join(state) + "\n")
    if seat.message:
        text.append("Last failing message\n", style="bold")
        text.append("".join(f"  {line}\n" for line in seat.message.strip().splitlines()))
    text.append(f"Steps ({seat.passed_steps} passed)\n", style="bold")
    if not progress.labs:
        text.append("  no step checked yet\n")
    for lab, steps in progress.labs.items():
        text.append(f"  {lab}\n")
        for step_id, sp in steps.items():
            here = lab == progress.current_lab and step_id == progress.current_step
            tries = f"{sp.attempts} {'try' if sp.attempts == 1 else 'tries'}"
            line = f"    {MARKS.get(sp.status, ('·', ''))[0]} {step_id:<16} {sp.status:<11} {tries}"
            text.append(line, style="bold" if here else "")
            text.append("  ← current\n" if here else "\n")
    text.rstrip()
    return text


class LearnerDetails(Static):
    """Follows the table's cursor."""

    def show(self, learner: Learner | None) -> None:
        self.update(describe(learner) if learner else Text("No learner selected."))
