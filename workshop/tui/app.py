"""The workshop app: thin. The main screen does the work; this holds the session, quit and the palette."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from workshop.env import supervisor
from workshop.runs import checks
from workshop.runs.session import Session
from workshop.tui.palette import commands
from workshop.tui.screens.main import MainScreen


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
        if isinstance(screen, MainScreen):
            yield from commands(screen)
            yield SystemCommand("Join a room", "Get ready from the instructor's machine, then start the room's lab",
                                self.action_join_room)

    def action_join_room(self, url: str = "", token: str = "", name: str = "") -> None:
        # Deferred, measured: the join screen brings the room's client (~50 ms of imports), which the
        # first frame does not need and most learners never open.
        from workshop.tui.screens.join import JoinScreen

        def joined(slug: str | None) -> None:
            if slug and isinstance(self.screen, MainScreen):
                lab = self.session.workshop.lab(slug)
                self.screen.show(lab, lab.steps[0] if lab.steps else None)

        self.push_screen(JoinScreen(self.session, url, token, name), joined)

    def on_ready(self) -> None:
        """The first frame is on screen: now load what it did not need."""
        import os

        if os.environ.get("WORKSHOP_EXIT_AFTER_FIRST_PAINT"):  # for benchmarks/first_paint.py: say when, and leave
            import time

            with open(os.environ["WORKSHOP_EXIT_AFTER_FIRST_PAINT"], "w") as mark:
                print(f"first-paint {time.time():.6f}", file=mark)
            self.exit(0)
            return
        after = getattr(self.screen, "after_first_frame", None)
        if after is not None:
            self.screen.call_later(after)
        self.call_later(self._install_cleanup)

    def _install_cleanup(self) -> None:
        """Services this app owns stop on quit, SIGTERM and SIGHUP too (the Services panel starts
        detached ones, which outlive the app on purpose). Here, not in a worker: signal handlers can
        only be set from the main thread."""
        # Deferred, measured: env.services costs ~60 ms of imports, paid here after the first frame.
        from workshop.env import services

        services.install_cleanup()

    async def action_quit(self) -> None:
        stop_started_processes()
        self.exit(0)


def _main_screen() -> Screen:
    from textual._context import active_app

    app = active_app.get()
    assert isinstance(app, WorkshopApp)
    return MainScreen(app.session)


def stop_started_processes() -> None:
    """Stop what this app started (a running command, a check's pytest child, owned services) so quitting never hangs."""
    checks.discard_warm()  # the waiting check process: stopped and reaped by its owner
    supervisor.stop_owned()


def run_app(session: Session) -> int:
    """Open the app on the learner's session; returns the exit code."""
    import gc

    # What is loaded by now lives as long as the app: keep the collector from walking it again and
    # again while the first frame is built (about 30 ms of the first paint here).
    gc.freeze()
    result = WorkshopApp(session).run()
    stop_started_processes()
    return int(result or 0)
