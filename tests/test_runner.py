"""The runner against checks that misbehave: slow, hung, crashing, broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_content
from workshop.core.content import load_workshop
from workshop.env import supervisor
from workshop.runs import checks
from workshop.runs.checks import run_checks

CHECKS = '''
import os, signal, time
import pytest
from workshop.checking import fail

@pytest.mark.step("one")
def test_passes(workspace):
    assert (workspace / "answer.txt").read_text() == "solution\\n"

@pytest.mark.step("one")
def test_plain_words(workspace):
    fail("the answer is wrong", expected="solution", seen=(workspace / "answer.txt").read_text().strip(), hint="edit answer.txt")

@pytest.mark.step("two", timeout=1)
def test_sleeps_past_its_limit(workspace):
    time.sleep(30)

@pytest.mark.step("two", timeout=1)
def test_ignores_the_alarm(workspace):
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    time.sleep(60)

@pytest.mark.step("two")
def test_kills_its_process(workspace):
    os._exit(3)

@pytest.mark.step("two")
def test_has_a_bug(workspace):
    {}["missing"]

@pytest.mark.step("two", timeout=5)
def test_command_that_hangs(run):
    result = run(["sleep", "60"], timeout=0.5)
    assert not result.timed_out, "the command hung"
'''


def _run(tmp_path: Path, answer: str, events: list[dict] | None = None, steps: list[str] | None = None):
    root = make_content(tmp_path / "content", CHECKS, step_ids=("one", "two"))
    lab = load_workshop(root).lab("01")
    folder = tmp_path / "work" / lab.slug
    folder.mkdir(parents=True)
    (folder / "answer.txt").write_text(answer)
    return run_checks(lab, folder, steps=steps, on_event=events.append if events is not None else None)


@pytest.mark.slow
def test_every_misbehaving_check_gets_its_own_verdict(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("workshop.runs.checks.GRACE", 2.0)
    checks.discard_warm()  # a worker an earlier test left waiting is recorded in that test's state folder
    events: list[dict] = []
    run = _run(tmp_path, "starter\n", events)
    by = {v.name: v for v in run.verdicts}
    assert list(by) == ["passes", "plain_words", "sleeps_past_its_limit", "ignores_the_alarm",
                        "kills_its_process", "has_a_bug", "command_that_hangs"]
    assert by["passes"].status == "failed"
    assert by["plain_words"].status == "failed" and by["plain_words"].seen == "starter"
    assert by["plain_words"].explain().splitlines()[-1] == "try     : edit answer.txt"
    assert by["sleeps_past_its_limit"].status == "timed out"  # the child's own alarm
    assert by["ignores_the_alarm"].status == "timed out"  # the runner killed the child
    assert by["kills_its_process"].status == "error" and "died" in by["kills_its_process"].message
    assert by["has_a_bug"].status == "error" and "KeyError" in by["has_a_bug"].message
    assert by["command_that_hangs"].status == "failed" and "hung" in by["command_that_hangs"].message
    assert "killed: time limit" in by["command_that_hangs"].output
    kinds = [e.kind for e in events]
    assert kinds.count("start") >= 7 and kinds.count("result") == 7
    assert [r["pid"] for r in supervisor.tracked()] == [checks._warm.proc.pid]  # only the worker waits for the next cycle
    checks.discard_warm()
    assert supervisor.tracked() == []  # nothing left running or recorded


def test_a_step_can_be_run_alone(tmp_path: Path) -> None:
    run = _run(tmp_path, "solution\n", steps=["one"])
    assert [v.name for v in run.verdicts] == ["passes", "plain_words"]
    assert run.verdicts[0].passed


def test_a_dead_runner_is_cleaned_up_at_the_next_start(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    from tests.conftest import group_running

    script = "from workshop.env import supervisor; import time; supervisor.spawn(['sleep', '300'], label='sleep'); time.sleep(300)"
    owner = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 20
    while not supervisor.tracked() and time.monotonic() < deadline:
        time.sleep(0.05)
    [rec] = supervisor.tracked()
    owner.kill()  # like kill -9 of the runner: its sleep is orphaned
    owner.wait()
    assert group_running(rec["pgid"])  # still alive
    assert [r.pgid for r in supervisor.reap()] == [rec["pgid"]]
    assert not group_running(rec["pgid"]) and supervisor.tracked() == []
