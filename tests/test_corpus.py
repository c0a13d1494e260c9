"""The corpus: learners' work for labs 01-04, written by different hands in different styles, right and
wrong, each graded by `workshop grade` to the verdict it deserves on every step.

tests/corpus/<lab>/<case>/ holds one lab folder as a learner left it, and EXPECTED.yaml:
``{why: ..., steps: {<step>: pass|fail}}``. A step passes when every check of it passes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

pytestmark = pytest.mark.slow
CORPUS = Path(__file__).resolve().parent / "corpus"
LABS = sorted(d.name for d in CORPUS.iterdir() if d.is_dir() and (ROOT / "labs" / d.name).is_dir()) if CORPUS.is_dir() else []


def cases(lab: str) -> dict[str, dict]:
    return {case.name: yaml.safe_load((case / "EXPECTED.yaml").read_text())
            for case in sorted((CORPUS / lab).iterdir()) if (case / "EXPECTED.yaml").is_file()}


def test_the_corpus_covers_every_step_of_labs_01_to_04() -> None:
    from workshop.core.content import load_workshop

    workshop = load_workshop(ROOT)
    assert LABS == ["01-first-filter", "02-func-e", "03-configuration", "04-logs-and-metrics"]
    for lab in LABS:
        steps = {s.id for s in workshop.lab(lab[:2]).steps}
        found = cases(lab)
        assert sum(all(v == "pass" for v in c["steps"].values()) for c in found.values()) >= 4, f"{lab}: too few right answers"
        assert sum(any(v == "fail" for v in c["steps"].values()) for c in found.values()) >= 4, f"{lab}: too few wrong ones"
        for name, expected in found.items():
            assert set(expected["steps"]) == steps, f"{lab}/{name} must name every step: {sorted(steps)}"
            assert set(expected["steps"].values()) <= {"pass", "fail"} and expected.get("why"), f"{lab}/{name}"


@pytest.mark.parametrize("lab", LABS)
def test_every_case_grades_to_its_expected_verdicts(lab: str, tmp_path: Path) -> None:
    expected = cases(lab)
    submissions = []
    for name in expected:
        folder = tmp_path / "class" / name
        shutil.copytree(CORPUS / lab / name, folder / lab, ignore=shutil.ignore_patterns("EXPECTED.yaml", "plugin.wasm"))
        submissions.append(str(folder))
    report = tmp_path / "grades.json"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = subprocess.run([sys.executable, "-m", "workshop", "grade", *submissions, "--labs", lab[:2], "--sandbox", "none",
                           "--jobs", "2", "--quiet", "--json", str(report)], capture_output=True, text=True, timeout=1800,
                          env={**os.environ, "TMPDIR": str(scratch)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wrong = []
    for sub in json.loads(report.read_text())["submissions"]:
        [graded] = sub["labs"]
        by_step: dict[str, list[dict]] = {}
        for v in graded["verdicts"]:
            by_step.setdefault(v["step"], []).append(v)
        want = expected[sub["learner"]]["steps"]
        for step, verdict in want.items():
            got = "pass" if by_step.get(step) and all(v["status"] == "passed" for v in by_step[step]) else "fail"
            if got != verdict:
                why = "; ".join(f"{v['name']}: {v['status']} {v['message']}" for v in by_step.get(step, []))
                wrong.append(f"{lab}/{sub['learner']} step {step}: expected {verdict}, graded {got} ({why})")
    assert not wrong, "\n".join(wrong)
