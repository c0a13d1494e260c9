"""Runs a command from the lab text in the lab folder and streams its output; Stop kills its process group."""

from __future__ import annotations

import subprocess
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Log, Static
from textual.worker import Worker, WorkerState

from workshop.core.errors import friendly
from workshop.env import supervisor
from workshop.env.learner import learner_env


class CommandLog(Vertical):
    """A status line with a Stop button, and the output of the last command run."""

    DEFAULT_CSS = """
    CommandLog #bar { height: auto; padding-left: 1; }
    CommandLog #what { width: 1fr; height: auto; }
    CommandLog Log { height: 1fr; }
    """

    class Finished(Message):
        """A command ended (exit code, or None when it could not start)."""

        def __init__(self, command: str, code: int | None) -> None:
            super().__init__()
            self.command = command
            self.code = code

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._proc: subprocess.Popen[bytes] | None = None
        self.command = ""
        self.stopped = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="bar"):
            yield Static("Press Run on a command in the step's text: its output appears here.", id="what")
            yield Button("Stop (x)", id="stop", variant="error", compact=True, disabled=True)
        yield Log(id="log", auto_scroll=True)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def run(self, command: str, cwd: Path) -> None:
        self.command = command
        self.stopped = False
        log = self.query_one(Log)
        log.clear()
        log.write_line(f"$ {command}")
        self._status(f"running in {cwd.name}/ ...")
        self.query_one("#stop", Button).disabled = False
        self._stream(command, cwd, log)

    @work(thread=True, exclusive=True, group="command", exit_on_error=False)
    def _stream(self, command: str, cwd: Path, log: Log) -> int | None:
        # The command comes from the workshop's own text, not from the learner; it runs in its own group,
        # with the workshop's tools on PATH (func-e, registry, go-httpbin) as `workshop shellenv` gives.
        proc = supervisor.spawn(["sh", "-c", command], cwd=cwd, env=learner_env(), stdout=subprocess.PIPE, label="command")
        self._proc = proc
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            self.app.call_from_thread(log.write_line, raw.decode("utf-8", "replace").rstrip("\n"))
        return supervisor.stop(proc, grace=0.5)

    @on(Button.Pressed, "#stop")
    def _stop_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.stop()

    def stop(self) -> bool:
        """Kill the running command and everything it started; False when nothing runs."""
        if not self.running:
            return False
        self.stopped = True
        self._status("stopping ...")
        self._kill()
        return True

    @work(thread=True, group="command-stop", exit_on_error=False)
    def _kill(self) -> None:
        if self._proc is not None:
            supervisor.stop(self._proc, grace=1.0)

    @on(Worker.StateChanged)
    def _done(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "command" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        event.stop()
        self.query_one("#stop", Button).disabled = True
        self._proc = None
        if event.state == WorkerState.ERROR:
            message = friendly(event.worker.error or RuntimeError("the command failed"))
            self._status(f"could not run: {message}")
            self.notify(message, title="Command", severity="error")
            self.post_message(self.Finished(self.command, None))
            return
        code = event.worker.result
        if self.stopped:
            text = "stopped; everything it started was killed"
        else:
            text = "finished" if code == 0 else f"failed (exit {code})"
        self._status(text)
        self.query_one(Log).write_line(f"[{text}]")
        self.post_message(self.Finished(self.command, code))

    def _status(self, text: str) -> None:
        self.query_one("#what", Static).update(Text(f"{self.command or 'command'}: {text}" if self.command else text))
