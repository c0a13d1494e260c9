"""`workshop grade --sandbox none`: the corpus grades to its expected scores through the real command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.grading import submissions as corpus

# The check plugin (loaded through its entry point) gives every test a 60 s alarm; grading a corpus takes longer.
pytestmark = [pytest.mark.slow, pytest.mark.own_network]  # the lab's fixed ports: free in a namespace of its own


def grade_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workshop", "grade", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_the_corpus_grades_to_its_scores_on_the_host(tmp_path: Path) -> None:
    content = corpus.content(tmp_path / "content")
    checks = content / "checks" / corpus.LAB
    folders = [corpus.make(c.name, tmp_path / "class" / c.name, procfd=False, checks_dir=checks) for c in corpus.BASIC]
    report = tmp_path / "grades.json"
    proc = grade_cli(*map(str, folders), "--content", str(content), "--sandbox", "none", "--jobs", "2",
                     "--timeout", "15", "--json", str(report), "--csv", str(tmp_path / "g.csv"),
                     "--junit", str(tmp_path / "junit"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    graded = {s["learner"]: s for s in json.loads(report.read_text())["submissions"]}
    for case in corpus.BASIC:
        got = graded[case.name]
        assert (got["points"], got["max_points"]) == (case.points, 5), (case, [
            (v["name"], v["status"], v["message"]) for lab in got["labs"] for v in lab["verdicts"]])
    assert sorted(p.name for p in (tmp_path / "junit").iterdir()) == sorted(f"{c.name}.xml" for c in corpus.BASIC)
    # Without a sandbox the host is trusted: the forger could write next to the (copied) checks, yet scored 1.
    assert "correct" in proc.stdout and "5/5" in proc.stdout


def test_min_score_and_unreadable_submissions(tmp_path: Path) -> None:
    content = corpus.content(tmp_path / "content")
    good = corpus.make("correct", tmp_path / "alice", procfd=False, checks_dir=tmp_path)
    bad = tmp_path / "bob.tar"
    import tarfile

    with tarfile.open(bad, "w") as tar:
        info = tarfile.TarInfo("../../evil.txt")
        tar.addfile(info)
    proc = grade_cli(str(good), str(bad), "--content", str(content), "--sandbox", "none", "--min-score", "100", "-q",
                     "--csv", "-")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # bob scores 0: below the minimum
    assert "bob" in proc.stderr and "unsafe" in proc.stdout
    assert not (tmp_path.parent / "evil.txt").exists()
    assert grade_cli(str(tmp_path / "nobody"), "--content", str(content), "--sandbox", "none").returncode == 2
