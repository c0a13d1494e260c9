"""The instructor's app: thin. The room screen does the work; this holds the folder and quit."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from workshop.room.watching import LiveRoom
from workshop.tui.room.reading import FolderReading, LiveReading
from workshop.tui.room.screen import RoomScreen


class RoomApp(App[int]):
    """A live view of a room of learners, for the instructor."""

    TITLE = "Wasm workshop room"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "Quit")]
    # A mode (not get_default_screen) so that the screen's own stylesheet is loaded.
    MODES: ClassVar[dict] = {"room": lambda: _room_screen()}
    DEFAULT_MODE = "room"

    def __init__(self, folder: Path | None = None, interval: float = 2.0, clock: Callable[[], float] = time.time,
                 live: LiveRoom | None = None) -> None:
        super().__init__()
        self.folder, self.interval, self.clock = folder, interval, clock
        self.reading = LiveReading(live) if live is not None else FolderReading(folder or Path("."))

    async def action_quit(self) -> None:
        self.exit(0)


def _room_screen() -> Screen:
    from textual._context import active_app

    app = active_app.get()
    assert isinstance(app, RoomApp)
    return RoomScreen(app.reading, app.interval, app.clock)


def run_room_app(folder: Path, interval: float = 2.0) -> int:
    """Open the room on ``folder`` (progress files or workspaces), re-read every ``interval`` seconds."""
    return int(RoomApp(Path(folder).expanduser(), interval).run() or 0)


def run_live_room_app(live: LiveRoom, interval: float = 2.0) -> int:
    """Open the room this machine serves, read from its server every ``interval`` seconds."""
    return int(RoomApp(None, interval, live=live).run() or 0)
