"""Command palette entries for the main screen: only the actions that fit the state right now."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.binding import Binding

if TYPE_CHECKING:
    from workshop.tui.screens.main import MainScreen

DESCRIPTIONS = {
    "check": "Check this step", "check_lab": "Check the whole lab", "next": "Next step",
    "previous": "Previous step", "hint": "Show one more hint", "solution": "Apply the solution (asks first)",
    "reset": "Reset the lab to its starter (asks first)", "watch": "Watch mode: re-check on save",
    "shell": "Open a shell in the lab folder", "start_lab": "Start this lab", "stop_command": "Stop the running command",
    "output": "Show the output of the commands you ran", "services": "Services: start, stop, read logs",
}


def commands(screen: MainScreen) -> Iterable[SystemCommand]:
    for binding in screen.BINDINGS:
        assert isinstance(binding, Binding)
        if screen.check_action(binding.action, ()):
            key = binding.key_display or binding.key
            yield SystemCommand(DESCRIPTIONS[binding.action], f"Key {key}", getattr(screen, f"action_{binding.action}"))
