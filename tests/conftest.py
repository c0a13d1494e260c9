"""Every test gets its own state, data, cache and workspace folders; nothing it starts may outlive it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from workshop.core import chain
from workshop.core.content import load_workshop
from workshop.core.locations import tools_dir

pytest_plugins = ["tests.own_network"]  # tests of the real labs in a network namespace of their own; the port guard

ROOT = Path(__file__).resolve().parent.parent
LAB01 = "01-first-filter"
# What `workshop prepare` installed, wherever it went: read before any test moves the data folder.
PREPARED = tools_dir()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Own state, data, cache and workspace folders; the tools `workshop prepare` installed stay in view."""
    for name in ("STATE", "DATA", "CACHE"):
        monkeypatch.setenv(f"WORKSHOP_{name}_DIR", str(tmp_path / name.lower()))
    monkeypatch.setenv("WORKSHOP_TOOLS_DIR", str(PREPARED))
    monkeypatch.setenv("WORKSHOP_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.delenv("WORKSHOP_CONTENT", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("WORKSHOP_SERVICES", "owned")  # what checks start goes away with them
    return tmp_path


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Skip unless a Docker engine answers; fail instead where one must (CI sets WORKSHOP_REQUIRE_DOCKER=1)."""
    from workshop.core.errors import WorkshopError
    from workshop.env.services import containers

    try:
        containers.client()
    except WorkshopError as exc:
        if os.environ.get("WORKSHOP_REQUIRE_DOCKER") == "1":
            pytest.fail(f"WORKSHOP_REQUIRE_DOCKER=1 but {exc}")
        pytest.skip(f"no Docker engine answers, so the Docker backend cannot be tested: {exc}")


@pytest.fixture
def workshop_cli(isolated: Path):
    """Run the real `workshop` command; returns the CompletedProcess."""

    def run(*args: str, timeout: float = 300, check_code: int | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "workshop", *args], capture_output=True, text=True, timeout=timeout)
        if check_code is not None:
            assert proc.returncode == check_code, proc.stdout + proc.stderr
        return proc

    return run


@pytest.fixture
def lab01_copy(tmp_path: Path):
    """A workspace holding lab 01 made from its starter or its solution."""

    def make(which: str) -> Path:
        lab = load_workshop(ROOT).lab(LAB01)
        ws = tmp_path / f"ws-{which}"
        chain.write_files(chain.starter_files(lab) if which == "starter" else chain.solution_files(lab), ws / LAB01)
        return ws

    return make


def make_content(root: Path, checks: str, *, step_ids: tuple[str, ...] = ("one",), solution: str = "x = 1\n") -> Path:
    """A tiny workshop folder with one lab whose checks are ``checks`` (a test_*.py source)."""
    lab = root / "labs" / "01-tiny"
    (lab / "starter").mkdir(parents=True)
    (lab / "starter" / "answer.txt").write_text("starter\n")
    steps = "\n".join(f"## Step {s} {{#{s}}}\n\nDo {s}.\n\n### Hints\n\n- first hint for {s}\n- second hint for {s}\n" for s in step_ids)
    (lab / "lab.md").write_text(
        f"---\nid: '01'\ntitle: Tiny\nsummary: A tiny lab.\nminutes: 5\nfiles:\n  {step_ids[0]}: [answer.txt]\n---\n\n# Tiny\n\nIntro.\n\n{steps}"
    )
    (root / "solutions" / "01-tiny").mkdir(parents=True)
    (root / "solutions" / "01-tiny" / "answer.txt").write_text("solution\n")
    (root / "checks" / "01-tiny").mkdir(parents=True)
    (root / "checks" / "01-tiny" / "test_tiny.py").write_text(checks)
    return root


def left_behind() -> list[dict]:
    """What the supervisor still records, but for the warm check worker waiting for the next cycle
    (it is kept on purpose; everything a cycle started must be gone)."""
    from workshop.env import supervisor
    from workshop.runs import checks

    waiting = checks._warm.proc.pid if checks._warm is not None else None
    return [r for r in supervisor.tracked() if r["pid"] != waiting]


def group_running(pgid: int) -> bool:
    """Whether a process of the group still runs. A zombie does not: killed, and waiting for its
    parent (for an orphan, the machine's PID 1, which may take seconds) to collect its exit code."""
    import psutil

    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                return True
        except (OSError, psutil.Error):
            continue
    return False
