"""A shell command from the lab text, with Copy and Run buttons."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Static


class CommandBlock(Vertical):
    """One fenced ``sh`` block: the command, then [Copy] [Run]."""

    DEFAULT_CSS = """
    CommandBlock { height: auto; margin: 0 1 1 1; border-left: thick $accent; padding: 0 1; }
    CommandBlock .command { height: auto; text-style: bold; }
    CommandBlock Horizontal { height: auto; }
    CommandBlock Button { min-width: 8; margin-right: 1; }
    """

    class RunRequested(Message):
        """The learner asked to run this command in the lab folder."""

        def __init__(self, command: str) -> None:
            super().__init__()
            self.command = command

    def __init__(self, command: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.command = command

    def compose(self) -> ComposeResult:
        yield Static(Text("$ " + self.command.replace("\n", "\n  ")), classes="command")
        with Horizontal():
            yield Button("Copy", classes="copy", compact=True)
            yield Button("Run", classes="run", variant="primary", compact=True)

    @on(Button.Pressed, ".copy")
    def copy(self, event: Button.Pressed) -> None:
        event.stop()
        self.app.copy_to_clipboard(self.command)
        self.notify("Copied the command to the clipboard.", timeout=2)

    @on(Button.Pressed, ".run")
    def run(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.RunRequested(self.command))
