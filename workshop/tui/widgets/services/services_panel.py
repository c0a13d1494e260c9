"""The live services (every one of the catalog): which are up, which the lab needs, start, stop, logs.

Everything that talks to the services runs in thread workers (``status(wait=False)`` never waits on
another program's start or stop), so the panel never freezes the app; it refreshes on a timer while
it is on screen. Services started here are detached, like `workshop env up`: they keep serving the
learner's own Envoy after the app quits, until Stop or `workshop env down`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, RichLog, Static
from textual.worker import Worker, WorkerState

from workshop.core.content import Lab
from workshop.core.errors import WorkshopError, friendly
from workshop.env import services
from workshop.env.services import ServiceInfo
from workshop.tui.widgets.services.service_row import ServiceRow

REFRESH_SECONDS = 2.0
LOG_LINES = 50
KEEPS_RUNNING = ("Services started here keep running after you quit, so your own Envoy and commands can use "
                 "them; stop them here or with `workshop env down`.")


@dataclass
class Snapshot:
    """What runs now, and the end of the log the learner is reading."""

    running: dict[str, ServiceInfo] = field(default_factory=dict)
    log_name: str | None = None
    log: str = ""


class ServicesPanel(VerticalScroll):
    """The lab's services and every service's state, with Start/Stop and Log buttons, and a log view."""

    DEFAULT_CSS = """
    ServicesPanel { padding: 0 1; }
    ServicesPanel #lab-services { height: auto; margin-bottom: 1; }
    ServicesPanel #lab-needs { width: 1fr; height: auto; }
    ServicesPanel #lab-services Button { min-width: 7; margin-left: 1; }
    ServicesPanel #keeps, ServicesPanel #activity { height: auto; color: $text-muted; margin-top: 1; }
    ServicesPanel #activity { margin-top: 0; }
    ServicesPanel #log-title { height: 1; margin-top: 1; text-style: bold; }
    ServicesPanel RichLog { height: 12; }
    """

    class Activity(Message):
        """A line of progress from a start or stop under way (sent from a worker thread)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, lab: Lab | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.lab = lab
        self.snapshot = Snapshot()
        self.log_name: str | None = None
        self.log_shown = ""  # the log text on screen, so an unchanged log is not redrawn
        self.busy = False
        self._last_problem = ""

    def compose(self) -> ComposeResult:
        with Horizontal(id="lab-services"):
            yield Static("", id="lab-needs")
            yield Button("Start them", id="start-lab", variant="success", compact=True)
            yield Button("Stop them", id="stop-lab", variant="error", compact=True)
        for name in services.SERVICES:
            yield ServiceRow(name)
        yield Static(KEEPS_RUNNING, id="keeps")
        yield Static("", id="activity")
        yield Static("", id="log-title")
        yield RichLog(id="service-log", wrap=True, min_width=20, max_lines=LOG_LINES * 4)

    def on_mount(self) -> None:
        self._draw()
        self.set_interval(REFRESH_SECONDS, self._tick)

    def show(self, lab: Lab | None) -> None:
        """The learner moved to ``lab``: show what it needs."""
        self.lab = lab
        if self.is_mounted:
            self._draw()
            self._tick()

    # -- reading the state (workers) ---------------------------------------------------------------

    def _tick(self) -> None:
        """Only while the learner can see the panel: nobody reads a hidden one."""
        if self.is_on_screen and not self.busy:
            self.refresh_status()

    def on_show(self) -> None:
        self.refresh_status()

    def _wanted_log(self, running: dict[str, ServiceInfo]) -> str | None:
        """The log chosen with a Log button; else the lab's first service; else the first one up."""
        if self.log_name:
            return self.log_name
        needed = self.lab.services if self.lab else []
        return next((n for n in needed if n in services.SERVICES), None) or next(iter(running), None)

    @work(thread=True, exclusive=True, group="services-status", exit_on_error=False)
    def refresh_status(self) -> Snapshot:
        running = {info.name: info for info in services.status(wait=False)}
        name = self._wanted_log(running)
        text = ""
        if name is not None:
            try:
                text = services.logs(name, LOG_LINES)
            except WorkshopError as exc:
                text = str(exc)
        return Snapshot(running, name, text)

    # -- changing the state (workers) --------------------------------------------------------------

    @on(ServiceRow.Toggle)
    def _toggle(self, event: ServiceRow.Toggle) -> None:
        event.stop()
        self.change([event.name], start=event.start)

    @on(Button.Pressed, "#start-lab")
    def _start_lab(self, event: Button.Pressed) -> None:
        event.stop()
        if self.lab and self.lab.services:
            self.change(list(self.lab.services), start=True)

    @on(Button.Pressed, "#stop-lab")
    def _stop_lab(self, event: Button.Pressed) -> None:
        event.stop()
        if self.lab and self.lab.services:
            self.change(list(self.lab.services), start=False)

    @on(ServiceRow.ShowLog)
    def _show_log(self, event: ServiceRow.ShowLog) -> None:
        event.stop()
        self.log_name = event.name
        self.query_one("#log-title", Static).update(f"{event.name}: last {LOG_LINES} log lines")
        log = self.query_one(RichLog)
        log.clear()
        self.log_shown = ""
        self.scroll_to_widget(log, animate=False, top=False)
        self.refresh_status()

    def change(self, names: list[str], start: bool) -> None:
        """Start (detached, like `workshop env up`) or stop ``names``; one change at a time.

        The buttons stay enabled while a change runs (disabling a focused button would move the
        keyboard focus away); a second press gets a notice instead."""
        if self.busy:
            self.notify("Services are being started or stopped; wait for that to finish.", timeout=3)
            return
        self.busy = True
        self._activity(("starting " if start else "stopping ") + ", ".join(names) + " ...")
        self._draw()
        self._change(names, start)

    @work(thread=True, group="services-change", exit_on_error=False)
    def _change(self, names: list[str], start: bool) -> str:
        def say(text: str) -> None:
            self.post_message(self.Activity(text))

        if start:
            up = services.ensure(names, detached=True, progress=say)
            where = ", ".join(f"{info.name} on {info.url}" for info in up.values())
            return f"Up: {where}; it keeps running after you quit."
        stopped = services.down(names, progress=say)
        return f"Stopped {', '.join(stopped)}." if stopped else f"Nothing to stop: {', '.join(names)} was not running."

    def on_services_panel_activity(self, message: Activity) -> None:
        message.stop()
        self._activity(message.text)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        """Where the workers' results and errors come back: errors become notices with the fix."""
        group = event.worker.group
        if group not in ("services-status", "services-change"):
            return
        event.stop()
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        error = event.worker.error if event.state == WorkerState.ERROR else None
        if group == "services-change":
            self.busy = False
            if error is not None:
                self._activity(f"Could not do that: {friendly(error)}")
                self.notify(friendly(error), title="Services", severity="error", timeout=10)
            else:
                self._activity(str(event.worker.result))
                self.notify(str(event.worker.result), title="Services", timeout=4)
            self._draw()
            self.refresh_status()
        elif error is not None:
            problem = friendly(error)
            self._activity(f"Cannot read the services' state: {problem}")
            if problem != self._last_problem:  # a refresh every few seconds must not repeat the notice
                self.notify(problem, title="Services", severity="error", timeout=10)
            self._last_problem = problem
        else:
            self._last_problem = ""
            self._apply(event.worker.result)

    # -- drawing -----------------------------------------------------------------------------------

    def _apply(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._draw()
        title = self.query_one("#log-title", Static)
        log = self.query_one(RichLog)
        if snapshot.log_name is None:
            title.update("Logs: press Log on a service to read its last lines here.")
            log.clear()
            self.log_shown = ""
            return
        title.update(f"{snapshot.log_name}: last {LOG_LINES} log lines")
        text = snapshot.log.strip("\n") or "(the log is empty)"
        if text != self.log_shown:
            self.log_shown = text
            log.clear()
            for line in text.splitlines():
                log.write(Text(line))

    def _draw(self) -> None:
        running = self.snapshot.running
        for row in self.query(ServiceRow):
            row.show(running.get(row.service))
        needs = list(self.lab.services) if self.lab else []
        label = self.query_one("#lab-needs", Static)
        if self.lab is None:
            label.update("")
        elif not needs:
            label.update(f"Lab {self.lab.id} needs no long-running services; its checks start what they use.")
        else:
            parts = [Text.assemble(f"Lab {self.lab.id} needs: ")]
            for i, name in enumerate(needs):
                up = name in running
                parts += [Text(", " if i else ""), Text(name, "bold"),
                          Text(" ● up", "green") if up else Text(" ○ down", "dim")]
            label.update(Text.assemble(*parts))
        for button in self.query("#lab-services Button"):
            button.display = bool(needs)

    def _activity(self, text: str) -> None:
        self.query_one("#activity", Static).update(Text(text))


