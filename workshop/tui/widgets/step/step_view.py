"""The lab text for the current step: Markdown, runnable commands, hints shown so far, or the lab's end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.containers import VerticalScroll

from workshop.core.verdict import FAILING, MARKS, NOT_STARTED, PASSED
from workshop.tui.widgets.step.command_block import CommandBlock
from workshop.tui.widgets.step.commands import label_plain_fences, split_commands

if TYPE_CHECKING:
    from textual.widget import Widget

    from workshop.core.content import Lab, Step

WORDS = {PASSED: "passed", FAILING: "failing", NOT_STARTED: "not checked yet"}


class StepView(VerticalScroll):
    """Scrollable text of one step (or of a finished lab)."""

    DEFAULT_CSS = """
    StepView { padding: 0 1; }
    StepView Markdown { margin: 0; padding: 0 1; }
    StepView .banner { height: auto; border: round $warning; padding: 0 1; margin: 0 1 1 1; }
    StepView .banner Static { height: auto; }
    StepView .status { height: auto; padding: 0 2; color: $text-muted; }
    StepView .done { border: round $success; }
    """

    # Markdown (markdown-it, and Pygments behind it) loads on first use: the first frame does not need it.

    def show_step(self, lab: Lab, step: Step, *, started: bool, status: str, hints: list[str]) -> None:
        from textual.widgets import Static

        index = lab.steps.index(step)
        widgets: list[Widget] = []
        if not started:
            widgets.append(_banner(lab))
        if index == 0:
            widgets.append(_markdown(f"## Lab {lab.id}: {lab.title}\n\n*{lab.summary}* ({lab.minutes} min)\n\n{_demote(lab.intro)}"))
        widgets.append(_markdown(f"### Step {index + 1} of {len(lab.steps)}: {step.title}"))
        widgets.append(Static(f"{MARKS.get(status, ('', ''))[0]} {WORDS.get(status, status)}", classes="status"))
        for part in split_commands(step.body):
            widgets.append(CommandBlock(part.text) if part.kind == "command" else _markdown(part.text))
        if hints:
            lines = "\n".join(f"{n}. {h}" for n, h in enumerate(hints, 1))
            more = "" if len(hints) == len(step.hints) else "\n\n*Press h for another.*"
            widgets.append(_markdown(f"#### Hints ({len(hints)} of {len(step.hints)})\n\n{lines}{more}", classes="hints"))
        self._replace(widgets)

    def show_done(self, lab: Lab, statuses: dict[str, str], next_lab: Lab | None) -> None:
        done = "\n".join(
            f"- {MARKS[PASSED if statuses.get(s.id) == PASSED else NOT_STARTED][0]} {s.title}" for s in lab.steps
        )
        if next_lab:
            after = (f"## Next: Lab {next_lab.id}, {next_lab.title}\n\n{next_lab.summary} "
                     f"(about {next_lab.minutes} min)\n\nPress **n** to go on to it.")
        else:
            after = "## That was the last lab\n\nYou have finished the workshop. Well done!"
        text = f"# ✓ Lab {lab.id} complete: {lab.title}\n\n**What you did**\n\n{done}\n\n{after}"
        self._replace([_markdown(text, classes="done")])

    def show_message(self, text: str) -> None:
        self._replace([_markdown(text)])

    def _replace(self, widgets: list[Widget]) -> None:
        with self.app.batch_update():
            self.remove_children()
            self.mount_all(widgets)
        self.scroll_home(animate=False)


def _markdown(text: str, classes: str | None = None) -> Widget:
    """Textual's Markdown widget, with plain fenced blocks labelled as text (see label_plain_fences)."""
    from textual.widgets import Markdown as MarkdownWidget

    return MarkdownWidget(label_plain_fences(text), classes=classes)


def _banner(lab: Lab) -> Widget:
    from textual.containers import Vertical
    from textual.widgets import Button, Static

    return Vertical(
        Static(f"Lab {lab.id} is not started: your workspace has no folder for it yet."),
        Button("Start lab (t)", variant="warning", action="screen.start_lab", compact=True),
        classes="banner",
    )


def _demote(markdown: str) -> str:
    """Headings inside a lab's intro sit below the lab's own title."""
    return "\n".join("##" + line if line.startswith("#") else line for line in markdown.splitlines())
