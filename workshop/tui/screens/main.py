"""The main screen: navigator on the left; the step's text above the check, output and services panels."""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from workshop.core import chain, workspace
from workshop.core.errors import friendly
from workshop.core.progress import PASSED
from workshop.runs import checks
from workshop.tui.screens.confirm import ConfirmScreen
from workshop.tui.watch import FolderWatch
from workshop.tui.widgets.checks.check_panel import CheckPanel
from workshop.tui.widgets.navigator.navigator import Navigator
from workshop.tui.widgets.step.step_view import StepView

if TYPE_CHECKING:
    from workshop.core.content import Lab, Step
    from workshop.runs.checks import CheckRun
    from workshop.runs.session import Session
    from workshop.tui.widgets.output.command_log import CommandLog
    from workshop.tui.widgets.step.command_block import CommandBlock

# The first frame holds the navigator, the header, the footer and an empty check panel. The step's
# text, the Output and Services panels and the warm check process come right after it (the app calls
# after_first_frame when it is Ready): they made the first paint slow, and the learner reads the frame
# before they could use any of them.


PREWARM_AFTER = 0.5  # seconds after the first frame (a `c` before then starts its own check process)
WATCH_POLL = 0.05  # seconds between looks at the lab folder in watch mode (a stat of a few files)


class MainScreen(Screen[None]):
    """Where the learner reads, runs, checks and moves through the labs."""

    CSS_PATH = "main.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "check", "Check"),
        Binding("a", "check_lab", "Check lab", show=False),
        Binding("n", "next", "Next"),
        Binding("p", "previous", "Prev"),
        Binding("h", "hint", "Hint"),
        Binding("s", "solution", "Solve"),
        Binding("r", "reset", "Reset"),
        Binding("w", "watch", "Watch"),
        Binding("exclamation_mark", "shell", "Shell", key_display="!"),
        Binding("t", "start_lab", "Start"),
        Binding("x", "stop_command", "Stop"),
        Binding("o", "output", "Output", show=False),  # no room in an 80-column footer; in the palette
        Binding("e", "services", "Services", show=False),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.lab: Lab | None = None
        self.step: Step | None = None
        self.watch: FolderWatch | None = None
        self.checking = False
        self.watch_pending = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            yield Navigator(self.session.workshop.labs, id="nav")
            with Vertical(id="main"):
                yield StepView(id="step")
                with TabbedContent(id="panels"):
                    with TabPane("Checks", id="checks-tab"):
                        yield CheckPanel(id="checks")
                    yield TabPane("Output", id="output-tab")  # filled after the first frame
                    yield TabPane("Services", id="services-tab")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        progress = self.session.progress()
        labs = self.session.workshop.labs
        lab = next((x for x in labs if x.slug == progress.current_lab), labs[0] if labs else None)
        step = None
        if lab is not None and lab.steps:
            step = next((s for s in lab.steps if s.id == progress.current_step), lab.steps[0])
        self.lab, self.step = lab, step
        self.query_one(Navigator).show(progress, lab, step)
        self._title()
        self.query_one("#nav Tree").focus()

    def after_first_frame(self) -> None:
        """The step's text first; the rest once that is on screen (see the note at the top)."""
        self.show(self.lab, self.step, record=False)
        self.call_after_refresh(self._load_the_rest)

    async def _load_the_rest(self) -> None:
        # Deferred, measured: with the services panel's imports (env.services, ~60 ms) at the top of this
        # module, the first paint took twice as long; they load here, after the first frame.
        from workshop.tui.widgets.output.command_log import CommandLog
        from workshop.tui.widgets.services.services_panel import ServicesPanel

        await self.query_one("#output-tab", TabPane).mount(CommandLog(id="output"))
        await self.query_one("#services-tab", TabPane).mount(ServicesPanel(self.lab, id="services"))
        self.set_interval(WATCH_POLL, self._poll_watch)
        # A check process warming up takes a CPU for a second; let the text settle on screen first.
        self.set_timer(PREWARM_AFTER, self._prewarm)

    # -- where the learner is -------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self.lab is not None and self.session.lab_dir(self.lab).is_dir()

    def show(self, lab: Lab | None, step: Step | None, record: bool = True) -> None:
        """Go to a lab and step: text, navigator, services, header; remember it in the progress."""
        view = self.query_one(StepView)
        if lab is None or step is None:
            view.show_message("# No labs\n\nThis workshop folder has no labs yet.")
            return
        moved = (lab, step) != (self.lab, self.step)
        self.lab, self.step = lab, step
        if record:
            self.session.goto(lab, step)
        progress = self.session.progress()
        hints = step.hints[: progress.step(lab.slug, step.id).hints_shown]
        view.show_step(lab, step, started=self.started, status=progress.status(lab.slug, step.id), hints=hints)
        self.query_one(Navigator).show(progress, lab, step)
        for panel in self.query("ServicesPanel"):
            panel.show(lab)  # type: ignore[attr-defined]
        if moved and self.watch is not None:
            self.watch = FolderWatch(self.session.lab_dir(lab))
        self._title()
        self.refresh_bindings()

    def _title(self) -> None:
        if self.lab and self.step:
            n = self.lab.steps.index(self.step) + 1
            self.sub_title = f"Lab {self.lab.id} · step {n}/{len(self.lab.steps)}" + (" · watching" if self.watch else "")

    def _places(self) -> list[tuple[Lab, Step]]:
        return [(lab, s) for lab in self.session.workshop.labs for s in lab.steps]

    def _move(self, by: int) -> None:
        places = self._places()
        if self.lab is None or self.step is None:
            return
        i = places.index((self.lab, self.step)) + by
        if 0 <= i < len(places):
            self.show(*places[i])
        else:
            self.notify("That was the last step." if by > 0 else "This is the first step.", timeout=2)

    def action_next(self) -> None:
        self._move(1)

    def action_previous(self) -> None:
        self._move(-1)

    @on(Navigator.StepChosen)
    def _chosen(self, event: Navigator.StepChosen) -> None:
        self.show(event.lab, event.step or (event.lab.steps[0] if event.lab.steps else None))

    # -- checks ---------------------------------------------------------------------------------

    def action_check(self) -> None:
        self._check(whole_lab=False)

    def action_check_lab(self) -> None:
        self._check(whole_lab=True)

    def _check(self, whole_lab: bool) -> None:
        if self.lab is None or self.step is None:
            return
        if self.checking:
            self.notify("A check is already running; its verdicts appear below.", timeout=2)
            return
        if not self.started:
            self.notify(f"Lab {self.lab.id} is not started yet: press t to start it.", severity="warning")
            return
        self.checking = True
        self.query_one(TabbedContent).active = "checks-tab"
        what = f"lab {self.lab.id}" if whole_lab else f"step {self.lab.steps.index(self.step) + 1}, {self.step.title}"
        self.query_one(CheckPanel).begin(what, self.session.planned_checks(self.lab, None if whole_lab else self.step))
        self.run_checks(self.lab, None if whole_lab else self.step)

    @work(thread=True, exclusive=True, group="check", exit_on_error=False)
    def run_checks(self, lab: Lab, step: Step | None) -> CheckRun:
        panel = self.query_one(CheckPanel)
        return self.session.check(lab, step, on_event=lambda e: panel.post_message(CheckPanel.Event(e)))

    @work(thread=True, group="prewarm", exit_on_error=False)
    def _prewarm(self) -> None:
        """Have the check worker ready before the next `c`, with this lab's checks loaded once it is started."""
        checks.prewarm(self.lab if self.started else None)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker results and errors come back to the screen."""
        if event.worker.group != "check" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        self.checking = False
        if self.watch_pending and self.watch is not None:
            self.watch_pending = False
            self.call_after_refresh(self._check, False)
        panel = self.query_one(CheckPanel)
        if event.state == WorkerState.ERROR:
            message = friendly(event.worker.error or RuntimeError("the check failed"))
            panel.error(message)
            self.notify(message, title="Check", severity="error", timeout=8)
            return
        run: CheckRun = event.worker.result
        panel.finish(run)
        self._prewarm()
        self._after_check(run)

    def _after_check(self, run: CheckRun) -> None:
        lab = run.lab
        progress = self.session.progress()
        step = self.step
        if self.lab is lab and len({v.step for v in run.verdicts}) > 1:  # a whole-lab check moves the learner
            step = next((s for s in lab.steps if s.id == progress.current_step), step)
        if all(progress.status(lab.slug, s.id) == PASSED for s in lab.steps) and self.lab is lab:
            labs = self.session.workshop.labs
            following = labs[labs.index(lab) + 1] if labs.index(lab) + 1 < len(labs) else None
            self.query_one(StepView).show_done(lab, {s.id: progress.status(lab.slug, s.id) for s in lab.steps}, following)
            self.query_one(Navigator).show(progress, self.lab, self.step)
            self.notify(f"Lab {lab.id} complete!", timeout=4)
        elif run.passed:
            self.show(lab, step, record=False)
            self.notify("Step passed. Press n for the next step.", timeout=4)
        else:
            self.show(lab, step, record=False)

    # -- hints, solution, reset, start -------------------------------------------------------------

    def action_hint(self) -> None:
        if self.lab is None or self.step is None:
            return
        before = self.session.progress().step(self.lab.slug, self.step.id).hints_shown
        shown = self.session.next_hint(self.lab, self.step)
        if shown is None:
            self.notify("This step has no hints. Press s to see the solution.", timeout=3)
            return
        if shown[0] == before:
            self.notify("That was the last hint. Press s to see the solution.", timeout=3)
            return
        self.show(self.lab, self.step, record=False)
        self.query_one(StepView).scroll_end(animate=False)
        self.notify(f"Hint {shown[0]} of {len(self.step.hints)} added below the step.", timeout=2)

    def action_solution(self) -> None:
        lab = self.lab
        if lab is None:
            return
        changes = workspace.diff(self.session.workspace, lab, chain.solution_files(lab))
        if not changes:
            self.notify("Your files already match the solution.", timeout=3)
            return
        question = f"Apply the solution of lab {lab.id}? These are the changes to your files; they are backed up first."
        self.app.push_screen(ConfirmScreen(question, yes="Apply solution", diff=changes),
                             lambda ok: self._put(lab, "solve") if ok else None)

    def action_reset(self) -> None:
        lab = self.lab
        if lab is None:
            return
        question = f"Reset lab {lab.id} to its starter files? Your current files are backed up first."
        self.app.push_screen(ConfirmScreen(question, yes="Reset"), lambda ok: self._put(lab, "reset") if ok else None)

    def _put(self, lab: Lab, reason: str) -> None:
        source = chain.solution_files(lab) if reason == "solve" else chain.starter_files(lab)
        try:
            self.session.workspace.mkdir(parents=True, exist_ok=True)
            change = workspace.put(self.session.workspace, lab, source, reason=reason)
        except OSError as exc:
            self.notify(friendly(exc), severity="error")
            return
        what = "solution applied" if reason == "solve" else "lab reset to its starter"
        saved = f" Your previous files are in {change.backup.relative_to(self.session.workspace)}." if change.backup else ""
        self.notify(f"Lab {lab.id}: {what} ({len(change.written)} file(s) written).{saved}", timeout=6)
        self.show(self.lab, self.step, record=False)

    def action_start_lab(self) -> None:
        if self.lab is None:
            return
        try:
            self.session.workspace.mkdir(parents=True, exist_ok=True)
            change = workspace.start(self.session.workspace, self.lab)
        except OSError as exc:
            self.notify(friendly(exc), severity="error")
            return
        self.notify(f"Lab {self.lab.id} started: your files are in {change.lab_dir}", timeout=6)
        self.show(self.lab, self.step, record=True)

    # -- watch, shell, commands ------------------------------------------------------------------

    def action_watch(self) -> None:
        if self.watch is not None:
            self.watch = None
            self.notify("Watch mode off.", timeout=2)
        elif self.lab is not None:
            self.watch = FolderWatch(self.session.lab_dir(self.lab))
            self.notify("Watch mode on: saving a file in the lab folder re-checks this step.", timeout=3)
        self._title()

    def _poll_watch(self) -> None:
        if self.watch is None or not self.watch.poll() or not self.started:
            return
        if self.checking:
            self.watch_pending = True  # saved while a check ran: check again when it ends
        else:
            self._check(whole_lab=False)

    def action_shell(self) -> None:
        if self.lab is None:
            return
        folder = self.session.lab_dir(self.lab) if self.started else self.session.workspace
        shell = os.environ.get("SHELL") or "/bin/sh"
        try:
            with self.app.suspend():
                print(f"Shell in {folder}, with the workshop's tools on PATH. Type `exit` to go back to the workshop.",
                      flush=True)
                # Deferred, measured: env.learner brings http.client (~25 ms), which the first frame does not need.
                from workshop.env.learner import learner_env


                subprocess.run([shell], cwd=folder if folder.is_dir() else None, env=learner_env(), check=False)
        except SuspendNotSupported:
            self.notify(f"A shell cannot be opened here; open a terminal in {folder}.", severity="warning")
        except OSError as exc:
            self.notify(friendly(exc), severity="error")
        self.show(self.lab, self.step, record=False)

    def on_command_block_run_requested(self, event: CommandBlock.RunRequested) -> None:
        output = self._command_log()
        if self.lab is None or output is None:
            return
        if not self.started:
            self.notify(f"Start lab {self.lab.id} first (press t): the command runs in its folder.", severity="warning")
            return
        if output.running:
            self.notify("A command is already running: stop it first (x).", severity="warning")
            return
        self.query_one(TabbedContent).active = "output-tab"
        output.run(event.command, self.session.lab_dir(self.lab))
        self.refresh_bindings()

    def on_command_log_finished(self, event: CommandLog.Finished) -> None:
        self.refresh_bindings()

    def _command_log(self) -> CommandLog | None:
        """The Output panel, once it is mounted (just after the first frame)."""
        found = self.query("#output")
        return found.first() if found else None  # type: ignore[return-value]

    def action_stop_command(self) -> None:
        output = self._command_log()
        if output is None or not output.stop():
            self.notify("No command is running.", timeout=2)

    def action_output(self) -> None:
        self.query_one(TabbedContent).active = "output-tab"

    def action_services(self) -> None:
        self.query_one(TabbedContent).active = "services-tab"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start_lab":
            return not self.started  # shown in the footer only while the lab needs starting
        if action == "stop_command":
            output = self._command_log() if self.is_mounted else None
            return output is not None and output.running
        return True
