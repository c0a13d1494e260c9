"""Join a room from the app: the room's address, its token and your name, then the same join as
`workshop join`, with its progress (a bar for the bytes, a line per step) and its one-sentence errors."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, ProgressBar, Static

from workshop.core.errors import WorkshopError, explain
from workshop.room.home import Joined
from workshop.room.join import join
from workshop.room.seats import WHAT_IS_SENT
from workshop.runs.session import Session


class JoinScreen(ModalScreen[str]):
    """Dismissed with the lab's slug the room is on once ready ("" when closed before)."""

    CSS_PATH = "join.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, session: Session, url: str = "", token: str = "", name: str = "") -> None:
        super().__init__()
        self.session = session
        joined = Joined.load()
        self.given = (url or (joined.url if joined else ""), token or (joined.token if joined else ""),
                      name or (joined.name if joined else ""))
        self.joining = False
        self.lab = ""

    def compose(self) -> ComposeResult:
        url, token, name = self.given
        with Vertical(id="dialog"):
            yield Static(Text("Join the room: the address and token are on the instructor's screen."), id="title")
            yield Input(url, placeholder="http://ADDR:PORT", id="url")
            yield Input(token, placeholder="room token", id="token", password=True)
            yield Input(name, placeholder="your name", id="name")
            yield ProgressBar(total=1.0, show_eta=False, id="bar")
            yield Static("", id="status")
            with Horizontal(id="buttons"):
                yield Button("Join", id="join", variant="primary", compact=True)
                yield Button("Close", id="close", compact=True)

    def on_mount(self) -> None:
        empty = next((i for i in self.query(Input) if not i.value), None)
        (empty or self.query_one("#join", Button)).focus()

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        if not self.joining:
            self.dismiss(self.lab)

    @on(Input.Submitted)
    @on(Button.Pressed, "#join")
    def start(self) -> None:
        if self.joining:
            return
        url, token, name = (self.query_one(f"#{i}", Input).value.strip() for i in ("url", "token", "name"))
        if not (url and token and name):
            self.say("The room's address, its token and your name are all needed.", error=True)
            return
        self.joining = True
        self.query_one("#join", Button).disabled = True
        self.run_join(url, token, name)

    def say(self, text: str, fraction: float | None = None, error: bool = False) -> None:
        self.query_one("#status", Static).update(Text(text, style="bold red" if error else ""))
        if fraction is not None:
            self.query_one("#bar", ProgressBar).update(progress=min(1.0, fraction))

    @work(thread=True, exclusive=True, group="join", exit_on_error=False)
    def run_join(self, url: str, token: str, name: str) -> None:
        def progress(text: str, fraction: float | None = None) -> None:
            self.app.call_from_thread(self.say, text, fraction)

        try:
            report = join(self.session, url, token, name, progress)
        except WorkshopError as exc:
            self.app.call_from_thread(self.failed, explain(exc))
            return
        self.app.call_from_thread(self.ready, report.lab, report.folder, sum(report.seconds.values()))

    def failed(self, text: str) -> None:
        self.joining = False
        self.query_one("#join", Button).disabled = False
        self.say(text, error=True)

    def ready(self, lab: str, folder: str, seconds: float) -> None:
        self.joining = False
        self.lab = lab
        self.say(f"Ready in {seconds:.0f} s: you are on {lab} ({folder}). Close to start.\n\n{WHAT_IS_SENT}", 1.0)
        self.query_one("#join", Button).label = "Join again"
        self.query_one("#join", Button).disabled = False
        self.query_one("#close", Button).focus()
