"""Every command a lab tells the learner to type works in their own terminal, however the workshop was
installed (pip, a virtualenv, pipx): none depends on which Python is first on PATH."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT
from workshop.core.content import load_workshop
from workshop.tui.widgets.step.commands import split_commands

WORKSHOP = load_workshop(ROOT)
PYTHON_WORD = re.compile(r"(?:^|[\s;&|(`$])(python3?|pip3?)(?=\s|$)", re.M)


def lab_commands(lab) -> list[str]:  # type: ignore[no-untyped-def]
    """What the lab's text shows as commands (its fenced sh blocks), and what selftest runs for it."""
    texts = [lab.intro, *(step.body for step in lab.steps)]
    shown = [part.text for text in texts for part in split_commands(text) if part.kind == "command"]
    return shown + [" ".join(run.command) for run in lab.runs]


@pytest.mark.parametrize("lab", WORKSHOP.labs, ids=lambda lab: lab.slug)
def test_no_lab_command_runs_whatever_python_is_on_path(lab) -> None:  # type: ignore[no-untyped-def]
    found = [c for c in lab_commands(lab) if PYTHON_WORD.search(c)]
    assert not found, f"{lab.slug} tells the learner to run: {found}"


@pytest.mark.slow
@pytest.mark.own_network  # lab 05's registry on 5000
def test_a_lab_selftest_passes_with_another_python_first_on_path(workshop_cli, tmp_path: Path, monkeypatch) -> None:
    """As in a virtualenv or pipx install: the first `python3` on PATH is not the workshop's (here it fails loudly)."""
    other = tmp_path / "other-python"
    other.mkdir()
    for name in ("python", "python3", "pip", "pip3"):
        stub = other / name
        stub.write_text("#!/bin/sh\necho 'this is not the Python the workshop was installed with' >&2\nexit 97\n")
        stub.chmod(0o755)
    monkeypatch.setenv("PATH", f"{other}:{__import__('os').environ['PATH']}")
    data = json.loads(workshop_cli("selftest", "05", "--json", check_code=0).stdout)
    assert data["labs"][0]["ok"], data
