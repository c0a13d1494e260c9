"""TUI tests: isolated folders, a tiny workshop to drive quickly, and helpers to wait on the app.

No async pytest plugin is installed: ``async def`` tests (Pilot) run through ``pytest_pyfunc_call`` below; with
pytest-asyncio or anyio, mark them instead and drop the hook. ``tui_isolated`` overlaps the top-level
``isolated`` on purpose, so these tests stay isolated if that one changes. The snapshots in __snapshots__
(pytest-textual-snapshot, with the textual version pyproject pins) were recorded with NO_COLOR=1, which
``isolated`` sets (monochrome SVGs); record them again with
``python -m pytest tests/tui/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import asyncio
import inspect
import shutil
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from workshop.core import workspace
from workshop.runs.session import Session
from workshop.tui.app import WorkshopApp

ROOT = Path(__file__).resolve().parents[2]

LAB_MD = '''---
id: "{id}"
title: {title}
summary: {summary}
minutes: 5
tools: [sh]
services: [{services}]
---

# {title}

A tiny lab for the TUI tests.

{steps}
'''


@pytest.fixture(autouse=True)
def no_warm_check_process_left() -> object:
    """The app keeps a check process warm; a test's app is gone afterwards, so is that process."""
    import threading

    from workshop.runs import checks

    yield
    for thread in threading.enumerate():  # a prewarm worker may still be spawning one
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(timeout=5)
    checks.discard_warm()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests (Pilot drives the app from a coroutine) without an async plugin."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**args))
    return True


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))


@pytest.fixture(autouse=True)
def tui_isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """State, data, cache and workspace in tmp folders: no test sees the learner's real progress."""
    for name in ("STATE", "DATA", "CACHE"):
        monkeypatch.setenv(f"WORKSHOP_{name}_DIR", str(tmp_path / name.lower()))
    monkeypatch.setenv("WORKSHOP_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.delenv("WORKSHOP_CONTENT", raising=False)
    return tmp_path


@pytest.fixture
def tiny_content(tmp_path: Path) -> Path:
    """Two labs. 01-tiny: steps `answer` (answer.txt says yes) and `note` (note.txt exists);
    02-hang: one step whose check sleeps past its 1 s limit."""
    root = tmp_path / "content"
    steps = '''
## Answer yes {#answer}

Write `yes` in `answer.txt`.

```sh
echo hello-from-lab
```

### Hints

- Open answer.txt.
- Its whole content must be the word yes.

## Leave a note {#note}

Make a file `note.txt`.

```sh
sleep 30
```
'''
    _write(root / "labs/01-tiny/lab.md", LAB_MD.format(id="01", title="A tiny lab", summary="Say yes.", services="",
                                                        steps=steps))
    _write(root / "labs/01-tiny/starter/answer.txt", "no\n")
    _write(root / "solutions/01-tiny/answer.txt", "yes\n")
    _write(root / "solutions/01-tiny/note.txt", "done\n")
    _write(root / "checks/01-tiny/test_tiny.py", '''
        import pytest

        from workshop.checking import fail


        @pytest.mark.step("answer", timeout=20)
        def test_answer_is_yes(workspace, transcript):
            """answer.txt says yes"""
            seen = (workspace / "answer.txt").read_text().strip()
            transcript.append("read answer.txt")
            if seen != "yes":
                fail("answer.txt does not say yes", expected="yes", seen=seen, hint="write yes in answer.txt")


        @pytest.mark.step("note", timeout=20)
        def test_note_exists(workspace):
            """note.txt exists"""
            if not (workspace / "note.txt").exists():
                fail("there is no note.txt", hint="create note.txt in your lab folder")
    ''')
    hang = '''
## Wait forever {#wait}

This step's check never finishes.
'''
    _write(root / "labs/02-hang/lab.md", LAB_MD.format(id="02", title="A hanging lab", summary="Time out.",
                                                        services="envoy", steps=hang))
    _write(root / "labs/02-hang/starter/README.txt", "nothing\n")
    _write(root / "solutions/02-hang/README.txt", "nothing\n")
    _write(root / "checks/02-hang/test_hang.py", '''
        import time

        import pytest


        @pytest.mark.step("wait", timeout=1)
        def test_waits_forever(workspace):
            """it waits for something that never comes"""
            time.sleep(30)
    ''')
    return root


@pytest.fixture
def lab01_content(tmp_path: Path) -> Path:
    """Only the shipped lab 01, so screens and snapshots do not change when other labs are added."""
    root = tmp_path / "lab01-content"
    for part in ("labs", "solutions", "checks"):
        shutil.copytree(ROOT / part / "01-first-filter", root / part / "01-first-filter")
    return root


@pytest.fixture
def tiny_session(tiny_content: Path, tmp_path: Path) -> Session:
    return Session.open(content=str(tiny_content), workspace=str(tmp_path / "ws"))


@pytest.fixture
def started(tiny_session: Session) -> Session:
    """The tiny workshop with lab 01 started from its starter."""
    tiny_session.workspace.mkdir(parents=True, exist_ok=True)
    workspace.start(tiny_session.workspace, tiny_session.workshop.labs[0])
    return tiny_session


def make_app(session: Session) -> WorkshopApp:
    return WorkshopApp(session)


async def wait_for(pilot: object, condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the app did not reach the expected state in time")
        await pilot.pause(0.05)  # type: ignore[attr-defined]
