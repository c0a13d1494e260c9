"""One live service in the services panel: is it up, where, what runs it, who owns it; Start/Stop and Log."""

from __future__ import annotations

import os

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Static

from workshop.env.services import ServiceInfo


def lifetime(info: ServiceInfo) -> str:
    """Who ends the service, in the learner's words."""
    if info.detached:
        return "runs until `workshop env down`"
    if info.owner == os.getpid():
        return "owned by this app: stops when you quit"
    return f"owned by pid {info.owner}: stops when that program ends"


def runner(info: ServiceInfo) -> str:
    return f"container {info.container[:12]}" if info.container else f"local process {info.pid}"


class ServiceRow(Vertical):
    """``● httpbin  up on :8080  [Stop] [Log]``, then its URL, what runs it and until when."""

    DEFAULT_CSS = """
    ServiceRow { height: auto; }
    ServiceRow Horizontal { height: auto; }
    ServiceRow .what { width: 1fr; height: auto; }
    ServiceRow Button { min-width: 7; margin-left: 1; }
    ServiceRow .details { height: auto; padding-left: 2; color: $text-muted; display: none; }
    ServiceRow.up .details { display: block; }
    """

    class Toggle(Message):
        """The learner asked to start (or stop) this service."""

        def __init__(self, name: str, start: bool) -> None:
            super().__init__()
            self.name = name
            self.start = start

    class ShowLog(Message):
        """The learner asked to read this service's log."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, name: str) -> None:
        super().__init__(id=f"service-{name}")
        self.service = name
        self.info: ServiceInfo | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Static(self._what(), classes="what")
            yield Button("Start", classes="toggle", compact=True)
            yield Button("Log", classes="log", compact=True)
        yield Static("", classes="details")

    def _what(self) -> Text:
        if self.info is None:
            return Text.assemble(("○ ", "dim"), (f"{self.service:<9}", "bold"), (" down", "dim"))
        return Text.assemble(("● ", "bold green"), (f"{self.service:<9}", "bold"), f" up on :{self.info.port}")

    def show(self, info: ServiceInfo | None) -> None:
        """Draw the service as up (``info``) or down."""
        self.info = info
        self.set_class(info is not None, "up")
        self.query_one(".what", Static).update(self._what())
        toggle = self.query_one(".toggle", Button)
        toggle.label = "Stop" if info else "Start"
        toggle.variant = "error" if info else "success"
        if info is not None:
            admin = f" (admin {info.admin_url})" if info.admin_url else ""
            self.query_one(".details", Static).update(Text(f"{info.url}{admin}, {runner(info)}; {lifetime(info)}"))

    @on(Button.Pressed, ".toggle")
    def _toggle(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Toggle(self.service, start=self.info is None))

    @on(Button.Pressed, ".log")
    def _log(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.ShowLog(self.service))
