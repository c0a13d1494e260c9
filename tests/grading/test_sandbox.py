"""The Docker sandbox: the corpus, every escape and every forgery, graded in containers."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from tests.grading import submissions as corpus
from workshop.core.content import load_workshop
from workshop.env import sandbox
from workshop.grading.grade import grade
from workshop.grading.job_runner import DOCKER, GradeOptions
from workshop.grading.submission import identify

# The check plugin (loaded through its entry point) gives every test a 60 s alarm; grading a corpus takes longer.
pytestmark = pytest.mark.slow


@pytest.fixture
def engine() -> None:
    if not sandbox.engine_answers():
        if os.environ.get("WORKSHOP_REQUIRE_DOCKER"):
            pytest.fail("no Docker engine answers, and WORKSHOP_REQUIRE_DOCKER is set")
        pytest.skip("no Docker engine answers here")


@pytest.fixture
def host_secret_server():
    """A service on the host's loopback: a submission that reaches it has left its network."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.sendall(b"HOST-NETWORK-SECRET")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def test_the_corpus_and_its_escapes_are_contained(tmp_path: Path, engine: None, host_secret_server: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # One Go build cache seed for the whole test run (built from the workshop's solution, ~40 s once).
    monkeypatch.setenv("WORKSHOP_GRADE_SEEDS", str(Path(os.environ.get("TMPDIR", "/tmp")) / "wasm-workshop-test-seeds"))
    content = corpus.content(tmp_path / "content")
    checks = content / "checks" / corpus.LAB
    canary = tmp_path / "other-learner" / "secret.txt"
    canary.parent.mkdir()
    canary.write_text("OTHER-LEARNERS-SECRET")
    cases = corpus.BASIC + corpus.ESCAPES
    folders = [corpus.make(c.name, tmp_path / "class" / c.name, procfd=True, checks_dir=checks, canary=canary,
                           port=host_secret_server) for c in cases]
    workshop = load_workshop(content)
    options = GradeOptions(labs=workshop.labs, jobs=2, sandbox=DOCKER, timeout=15, memory_mb=1536)
    grades = {g.name: g for g in grade(workshop, [identify(str(f)) for f in folders], options)}
    for case in cases:
        g = grades[case.name]
        seen = [(v.name, v.status, v.message) for v in g.verdicts]
        assert not g.broken, (case.name, g.broken)
        assert (g.points, g.max_points) == (case.points, 5), (case, seen)
        text = "\n".join(v.output + v.message for v in g.verdicts)
        assert "LOOT" not in text and "OTHER-LEARNERS-SECRET" not in text and "HOST-NETWORK-SECRET" not in text
    forger = next(v for v in grades["fakes-a-pass"].verdicts if v.name == "go_test_passes")
    opened = [ln for ln in forger.output.splitlines() if ln.startswith("opened ")]
    assert opened and not [ln for ln in opened if "python" in ln], opened  # the check processes' pipes stayed closed
    assert grades["fakes-a-pass"].forged_lines > 0  # what reached the container's stdout was seen, and not believed
    assert not (checks / "conftest.py").exists()
    assert all(not (f / corpus.LAB / "fill.bin").exists() for f in folders)  # the originals are never written
    left = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={sandbox.LABEL}={os.getpid()}"],
                          capture_output=True, text=True, check=False)
    assert left.stdout.strip() == ""
