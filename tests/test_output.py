"""The commands' one place for colour (cli/output.py): colours for a terminal, plain text for pipes, logs and NO_COLOR."""

from __future__ import annotations

import pytest

from workshop.cli import output


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdout counts as a colour terminal (rich honours FORCE_COLOR), as for a learner at a prompt."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")


def test_a_terminal_gets_coloured_marks_and_live_lines(terminal: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert output.mark("passed") != "✓" and "✓" in output.mark("passed") and "\x1b[" in output.mark("passed")
    assert output.live()
    output.live_line("  … build/builds")
    written = capsys.readouterr().out
    assert written == "\r\x1b[2K  … build/builds"


def test_no_color_keeps_the_text_plain(terminal: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert output.mark("passed") == "✓" and output.color("dim", "(1.0 s)") == "(1.0 s)"


def test_a_pipe_or_a_log_gets_plain_text_and_no_cursor_moves(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    assert output.mark("failed") == "✗" and output.mark("no such status") == "?"
    assert not output.live()
    output.live_line("  … running")
    output.clear_screen()
    assert capsys.readouterr().out == ""
