"""Every lab grades: a workspace of all solutions gets full marks, one of all starters gets zero, in the
Docker sandbox and on the host, and nothing is left running afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from workshop.core.chain import solution_files, starter_files, write_files
from workshop.core.content import load_workshop
from workshop.core.locations import content_root
from workshop.env import sandbox
from workshop.env.ports import Ports

# The check plugin (loaded through its entry point) gives every test a 60 s alarm; grading all labs takes longer.
pytestmark = pytest.mark.slow

WORKSHOP = load_workshop(content_root())
FIXED_PORTS = tuple(getattr(Ports(), f.name) for f in fields(Ports))  # every service's, func-e's Envoy's, the mesh's


def workspaces(root: Path) -> list[Path]:
    """alice holds every lab's solution, starter every lab's starter (assembled along the content chain)."""
    for name, source in (("alice", solution_files), ("starter", starter_files)):
        for lab in WORKSHOP.labs:
            write_files(source(lab), root / name / lab.slug)
    return [root / "alice", root / "starter"]


def leftovers(marker: str) -> list[str]:
    """Processes whose environment names ``marker`` (every job and what it started carries it)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker.encode() in (proc / "environ").read_bytes():
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:120])
        except OSError:
            continue
    return found


def held() -> set[int]:
    from workshop.env.http import port_free

    return {p for p in FIXED_PORTS if not port_free(p)}


def grade_all(tmp_path: Path, mode: str, extra_env: dict[str, str] | None = None) -> tuple[dict, str]:
    held_before = held()  # by other programs of this host (the Docker sandbox grades with none of its ports)
    scratch = tmp_path / "tmp"  # the grader's work folder, and so every job's state, lives here
    scratch.mkdir()
    report = tmp_path / "grades.json"
    env = {**os.environ, "TMPDIR": str(scratch), **(extra_env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "workshop", "grade", *map(str, workspaces(tmp_path / "class")),
                             "--sandbox", mode, "--jobs", "2", "--json", str(report)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out, err = proc.communicate(timeout=1200)
    assert proc.returncode == 0, out + err
    if mode == "docker":
        left = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={sandbox.LABEL}={proc.pid}"],
                              capture_output=True, text=True, check=False)
        assert left.stdout.strip() == "", "grading containers were left behind"
    assert leftovers(str(scratch)) == []
    assert held() - held_before == set(), "grading left something listening on the labs' ports"
    return json.loads(report.read_text()), out


def assert_scores(report: dict, isolated: Path) -> None:
    graded = {s["learner"]: s for s in report["submissions"]}
    assert [lab["lab"] for lab in graded["alice"]["labs"]] == [lab.slug for lab in WORKSHOP.labs]
    for lab in graded["alice"]["labs"]:
        failing = [(v["name"], v["status"], v["message"][:300]) for v in lab["verdicts"] if v["status"] != "passed"]
        assert not failing and lab["verdicts"], (lab["lab"], failing, lab.get("problems"))
    for lab in graded["starter"]["labs"]:
        passing = [v["name"] for v in lab["verdicts"] if v["status"] == "passed"]
        assert not passing and lab["verdicts"], (lab["lab"], passing)
    assert graded["alice"]["points"] == graded["alice"]["max_points"] > 0
    assert graded["starter"]["points"] == 0
    # The host's data folder (its registry's images, func-e's Envoys) was neither used nor written.
    assert not (isolated / "data" / "registry").exists() and not (isolated / "data" / "private-registry").exists()


def test_every_lab_grades_in_the_docker_sandbox(tmp_path: Path, isolated: Path, docker_engine: None) -> None:
    # One Go build cache seed for the test runs (built once from the workshop's solutions, ~90 s).
    seeds = Path(os.environ.get("TMPDIR", "/tmp")) / "wasm-workshop-test-seeds"
    report, table = grade_all(tmp_path, "docker", {"WORKSHOP_GRADE_SEEDS": str(seeds)})
    assert_scores(report, isolated)
    assert "100" in table


@pytest.mark.own_network  # the labs' fixed ports are free there, whatever this host runs
def test_every_lab_grades_on_the_host(tmp_path: Path, isolated: Path) -> None:
    report, _ = grade_all(tmp_path, "none")
    assert_scores(report, isolated)
