"""The warm check worker: every cycle a fork of one worker that loaded the lab's checks once, with a
verdict equal to a fresh process's; whatever a check leaves behind never reaches the next cycle, and a
worker that dies is replaced without changing a verdict."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.conftest import make_content
from workshop.core.content import load_workshop
from workshop.runs import checks
from workshop.runs.checks import run_checks

# Module state that a runner reusing one process would carry from a cycle to the next: a list the
# check appends to, a cached reading of the learner's file, a module-scoped fixture's count.
CHECKS = '''
import functools
import os
import pytest
from workshop.checking import fail

RUNS = []
IMPORTED_BY = os.getpid()

@functools.lru_cache(maxsize=None)
def answer_of(path):
    return open(path).read().strip()

@pytest.fixture(scope="module")
def counted():
    RUNS.append(os.getpid())
    return len(RUNS)

@pytest.mark.step("one")
def test_the_answer(workspace, counted):
    if counted != 1:
        fail("state from an earlier cycle leaked into this one", expected="1", seen=str(counted))
    seen = answer_of(str(workspace / "answer.txt"))
    if seen != "solution":
        fail("the answer is wrong", expected="solution", seen=seen, hint="edit answer.txt")

@pytest.mark.step("one")
def test_a_fresh_module(workspace):
    assert RUNS == [os.getpid()], f"this module ran before in this process: {RUNS}"
    (workspace / "imported-by").write_text("worker" if IMPORTED_BY == os.getppid() else "cycle")
'''


def _lab(tmp_path: Path):
    root = make_content(tmp_path / "content", CHECKS)
    lab = load_workshop(root).lab("01")
    folder = tmp_path / "work" / lab.slug
    folder.mkdir(parents=True)
    return lab, folder


def _verdicts(run) -> list[tuple[str, str, str, str]]:
    return [(v.name, v.status, v.message, v.seen) for v in run.verdicts]


def test_a_broken_then_fixed_file_through_the_same_worker(tmp_path: Path) -> None:
    lab, folder = _lab(tmp_path)
    checks.discard_warm()
    try:
        (folder / "answer.txt").write_text("starter\n")
        broken = run_checks(lab, folder)
        checks.prewarm(lab)  # as the app does after each check: the worker loads the lab's checks
        worker = checks._warm
        assert worker is not None and worker.alive() and worker.key == checks.key_of(lab)  # it loaded the lab's checks
        assert _verdicts(broken) == [("the_answer", "failed", "the answer is wrong", "starter"),
                                     ("a_fresh_module", "passed", "", "")]
        (folder / "answer.txt").write_text("solution\n")
        assert (folder / "imported-by").read_text() == "cycle"  # the worker loaded the checks after this cycle
        fixed = run_checks(lab, folder)
        assert checks._warm is worker  # the same worker, no new Python
        assert (folder / "imported-by").read_text() == "worker"  # the checks were not imported again
        assert fixed.passed, _verdicts(fixed)
        (folder / "answer.txt").write_text("starter\n")
        again = run_checks(lab, folder)
        assert checks._warm is worker
        checks.discard_warm()  # a fresh process says the same of the same file
        fresh = run_checks(lab, folder)
        assert _verdicts(again) == _verdicts(fresh) == _verdicts(broken)
    finally:
        checks.discard_warm()


def test_a_worker_that_died_is_replaced_and_the_verdict_holds(tmp_path: Path) -> None:
    lab, folder = _lab(tmp_path)
    (folder / "answer.txt").write_text("solution\n")
    checks.discard_warm()
    try:
        assert run_checks(lab, folder).passed
        first = checks._warm
        assert first is not None
        os.kill(first.proc.pid, signal.SIGKILL)  # it crashed while waiting for the next cycle
        first.proc.wait()
        run = run_checks(lab, folder)
        assert run.passed, _verdicts(run)
        assert checks._warm is not None and checks._warm is not first and checks._warm.alive()
    finally:
        checks.discard_warm()


def test_a_changed_check_file_gets_a_new_worker(tmp_path: Path) -> None:
    lab, folder = _lab(tmp_path)
    (folder / "answer.txt").write_text("solution\n")
    checks.discard_warm()
    try:
        assert run_checks(lab, folder).passed
        checks.prewarm(lab)  # the worker imports the check file as it is now
        first = checks._warm
        check_file = lab.checks_dir / "test_tiny.py"
        check_file.write_text(check_file.read_text().replace('expected="solution"', 'expected="solved"')
                              .replace('seen != "solution"', 'seen != "solved"'))
        run = run_checks(lab, folder)  # a fresh process would import the changed file: so does this cycle
        assert [(v.status, v.expected) for v in run.verdicts][0] == ("failed", "solved")
        assert checks._warm is not first
    finally:
        checks.discard_warm()
