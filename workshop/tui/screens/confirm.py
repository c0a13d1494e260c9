"""Ask before doing something to the learner's files; optionally show the difference it would make."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question, with an optional unified diff to read first."""

    CSS_PATH = "confirm.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, yes: str = "Yes", diff: str = "") -> None:
        super().__init__()
        self.question = question
        self.yes = yes
        self.diff = diff

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="-diff" if self.diff else ""):
            yield Static(Text(self.question), id="question")
            if self.diff:
                with VerticalScroll(id="diff"):
                    from rich.syntax import Syntax  # Pygments: loaded when a diff is shown, not with the app

                    yield Static(Syntax(self.diff, "diff", theme="ansi_dark", word_wrap=True))
            with Horizontal(id="buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="warning", compact=True)
                yield Button("Cancel (n)", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
