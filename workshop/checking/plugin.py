"""The pytest plugin behind every check: options, the ``step`` marker, timeouts and the result stream.

Run alone (``pytest checks/01-first-filter --workspace DIR``) or by ``workshop check``, which reads
one JSON line per event from the file descriptor in ``WORKSHOP_EVENTS_FD``.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from workshop.checking import early, fixtures, gateway, mesh, model
from workshop.checking.commands import Deadline
from workshop.checking.feedback import CheckFailed, CheckTimeout, take_notes
from workshop.checking.fixtures import DEADLINE, TRANSCRIPT
from workshop.checking.model import Check
from workshop.core.content import ContentError, load_lab
from workshop.core.verdict import ERROR, FAILED, PASSED, SKIPPED, TIMED_OUT, Verdict
from workshop.env import clock

OUTCOME = pytest.StashKey[Verdict]()



def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("workshop", "workshop checks")
    group.addoption("--workspace", metavar="DIR", help="the learner's workspace (holding one folder per lab) or one lab's folder")
    group.addoption("--step", metavar="ID", action="append", default=[], help="only run the checks of this step (repeatable)")
    group.addoption("--step-order", default="", metavar="IDS", help=argparse.SUPPRESS)
    group.addoption("--check-timeout", type=float, default=None, metavar="S", help="override every check's time limit")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "step(id, timeout=60, points=1): the lab step this check judges")
    config.addinivalue_line("markers", f"{early.MARKER}: this check runs the lab's module with envoy.run_filter(module) "
                                       "alone; start that Envoy as soon as an earlier check builds the module")
    if not config.pluginmanager.is_registered(fixtures):
        config.pluginmanager.register(fixtures, "workshop-fixtures")
    if not config.pluginmanager.is_registered(mesh):
        config.pluginmanager.register(mesh, "workshop-mesh")
    if not config.pluginmanager.is_registered(gateway):
        config.pluginmanager.register(gateway, "workshop-gateway")
    fd = os.environ.get("WORKSHOP_EVENTS_FD")
    config.stash[_EVENTS] = os.fdopen(int(fd), "w", buffering=1) if fd else None


_EVENTS = pytest.StashKey[Any]()
_CHECKS = pytest.StashKey[Check]()


def emit(config: pytest.Config, event: model.Event) -> None:
    stream = config.stash.get(_EVENTS, None)
    if stream is not None:
        stream.write(model.to_line(event) + "\n")


def check_of(item: pytest.Item) -> Check:
    """What the collected check is (lab, step, title, time limit, points): the one model, made once per item."""
    if _CHECKS not in item.stash:
        item.stash[_CHECKS] = Check.from_item(item, item.config.getoption("check_timeout"))
    return item.stash[_CHECKS]


def _step_order(items: list[pytest.Item]) -> dict[tuple[str, str], int]:
    """(lab, step) -> position of the step in its lab.md, so checks run in the order of the lab."""
    order: dict[tuple[str, str], int] = {}
    for checks_dir in {Path(str(i.path)).parent for i in items}:
        try:
            lab = load_lab(checks_dir.parent.parent, checks_dir.name)
        except ContentError:
            continue
        order.update({(checks_dir.name, s.id): n for n, s in enumerate(lab.steps)})
    return order


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not any(is_check(i) for i in items):
        if config.stash.get(_EVENTS, None) is not None:
            emit(config, model.Collected([check_of(i) for i in items]))  # tests without a step: validate names them
        return  # not a run of workshop checks (e.g. the project's own tests)
    given = config.getoption("step_order")
    if given and items:  # the runner knows the order already; no need to read lab.md again
        lab = check_of(items[0]).lab
        order = {(lab, s): n for n, s in enumerate(given.split(","))}
    else:
        order = _step_order(items)
    items.sort(key=lambda i: order.get((check_of(i).lab, check_of(i).step), len(order)))
    wanted = set(config.getoption("step"))
    if wanted:
        keep = [i for i in items if check_of(i).step in wanted]
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
    emit(config, model.Collected([check_of(i) for i in items]))


def pytest_sessionfinish(session: pytest.Session) -> None:
    early.stop_unused()


def _on_alarm(signum: int, frame: Any) -> None:
    raise CheckTimeout("time limit reached")


def is_check(item: pytest.Item) -> bool:
    """A workshop check (it has a step marker); any other test in the same run is left alone."""
    return item.get_closest_marker("step") is not None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):  # type: ignore[no-untyped-def]
    if not is_check(item):
        yield
        return
    check = check_of(item)
    item.stash[TRANSCRIPT] = []
    item.stash[DEADLINE] = Deadline(check.timeout)
    emit(item.config, model.Started(check))
    item.stash[OUTCOME] = check.verdict(PASSED)
    started, tools_before = time.monotonic(), clock.spent()
    take_notes()
    yield
    verdict = item.stash[OUTCOME]
    verdict.note = take_notes()
    verdict.seconds = round(time.monotonic() - started, 3)
    verdict.tool_seconds = round(clock.spent() - tools_before, 3)
    verdict.output = "\n".join(item.stash[TRANSCRIPT])
    emit(item.config, model.Finished(verdict))


def pytest_runtest_setup(item: pytest.Item) -> None:
    if is_check(item) and hasattr(signal, "setitimer"):
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, check_of(item).timeout)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):  # type: ignore[no-untyped-def]
    if hasattr(signal, "setitimer"):
        signal.setitimer(signal.ITIMER_REAL, 0)  # teardown (stopping Envoy) must never be cut short
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    if OUTCOME not in item.stash:
        return
    report: pytest.TestReport = outcome.get_result()
    verdict: Verdict = item.stash[OUTCOME]
    if report.skipped and verdict.status == PASSED:
        verdict.status = SKIPPED
        verdict.message = str(call.excinfo.value) if call.excinfo else "skipped"
    if not report.failed or verdict.status not in (PASSED, SKIPPED):
        return
    exc = call.excinfo.value if call.excinfo else None
    if isinstance(exc, CheckTimeout):
        limit = check_of(item).timeout
        verdict.status = TIMED_OUT
        verdict.message = f"the check did not finish within its {limit:g} s limit"
        verdict.hint = "does your code loop forever or wait for something that never comes?"
    elif isinstance(exc, CheckFailed):
        verdict.status = FAILED
        verdict.message, verdict.expected, verdict.seen, verdict.hint = exc.summary, exc.expected, exc.seen, exc.hint
        report.longrepr = exc.render()  # plain words, also for `pytest checks/` on its own
        return
    elif isinstance(exc, AssertionError):
        verdict.status = FAILED
        verdict.message = str(exc).strip() or "an assertion failed"
    else:
        verdict.status = ERROR
        verdict.message = f"the check itself broke ({type(exc).__name__}: {exc}); this is a bug in the check, not in your work"
    verdict.traceback = str(report.longrepr)
