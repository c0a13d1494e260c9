"""The workshop app: thin. The main screen does the work; this holds the session, quit and the palette."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from workshop.core.session import Session


class WorkshopApp(App[int]):
    """A learner's whole workshop: read a step, run its commands, check it, move on."""

    TITLE = "Wasm workshop"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "Quit")]
    # A mode (not get_default_screen) so that the screen's own stylesheet is loaded.
    MODES: ClassVar[dict] = {"learn": lambda: _main_screen()}
    DEFAULT_MODE = "learn"

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        from workshop.tui.palette import commands
        from workshop.tui.screens.main import MainScreen

        if isinstance(screen, MainScreen):
            yield from commands(screen)

    def on_ready(self) -> None:
        # For benchmarks/first_paint.py: the first frame is on screen; say when, and leave.
        import os

        if os.environ.get("WORKSHOP_EXIT_AFTER_FIRST_PAINT"):
            import time

            print(f"first-paint {time.time():.6f}", file=open(os.environ["WORKSHOP_EXIT_AFTER_FIRST_PAINT"], "w"))
            self.exit(0)

    async def action_quit(self) -> None:
        stop_started_processes()
        self.exit(0)


def _main_screen() -> Screen:
    from textual._context import active_app

    from workshop.tui.screens.main import MainScreen

    app = active_app.get()
    assert isinstance(app, WorkshopApp)
    return MainScreen(app.session)


def stop_started_processes() -> None:
    """Kill what this app started (a running command, a check's pytest child) so quitting never hangs."""
    import os

    from workshop.env import procs

    for record in procs.tracked():
        if record.get("owner") == os.getpid():
            procs.kill_group(int(record["pgid"]), grace=0.5)


def run_app(session: Session) -> int:
    """Open the app on the learner's session; returns the exit code."""
    result = WorkshopApp(session).run()
    stop_started_processes()
    return int(result or 0)
