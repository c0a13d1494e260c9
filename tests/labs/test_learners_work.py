"""The corpus: learners' work, written by different hands in different styles, right and wrong, each
graded to the verdict it deserves on every step.

Labs 01-04: tests/labs/learners_work/<lab>/<case>/ holds one lab folder as a learner left it, and EXPECTED.yaml:
``{why: ..., steps: {<step>: pass|fail}}``, graded by `workshop grade`. A step passes when every check of it passes.

Labs 06-09 (the mesh): a case holds the files the learner wrote, laid over the lab's solution, and its
EXPECTED.yaml also says what live traffic through the sidecar shows once they are applied (``traffic``), which
decides the verdict of the step it names. tests/labs/mesh_learners_work.py grades them against one real mesh per lab,
in a network namespace of its own, so the files keep the labs' own addresses.
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

from tests.conftest import PREPARED, ROOT
from tests.labs.mesh_learners_work import MESH_LABS

pytestmark = pytest.mark.slow
CORPUS = Path(__file__).resolve().parent / "learners_work"
LABS = sorted(d.name for d in CORPUS.iterdir() if d.is_dir() and (ROOT / "labs" / d.name).is_dir()
              and d.name not in MESH_LABS) if CORPUS.is_dir() else []


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


@pytest.mark.own_network  # lab 02's fixed ports
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


def test_the_corpus_covers_every_step_of_labs_06_to_09() -> None:
    from workshop.core.content import load_workshop

    workshop = load_workshop(ROOT)
    for lab in MESH_LABS:
        steps = {s.id for s in workshop.lab(lab[:2]).steps}
        found = cases(lab)
        assert sum(all(v == "pass" for v in c["steps"].values()) for c in found.values()) >= 1, f"{lab}: too few right answers"
        assert sum(any(v == "fail" for v in c["steps"].values()) for c in found.values()) >= 3, f"{lab}: too few wrong ones"
        for name, expected in found.items():
            assert set(expected["steps"]) == steps, f"{lab}/{name} must name every step: {sorted(steps)}"
            assert set(expected["steps"].values()) <= {"pass", "fail"} and expected.get("why"), f"{lab}/{name}"
            assert expected.get("traffic"), f"{lab}/{name}: what live traffic shows decides at least one step"
            for probe in expected["traffic"]:
                decided = "pass" if probe["carries"] else "fail"
                assert expected["steps"][probe["decides"]] == decided, \
                    f"{lab}/{name}: the traffic ({probe}) decides {probe['decides']}: {decided}"


def _own_network() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-n", "true"], capture_output=True, check=False).returncode == 0


@pytest.mark.parametrize("lab", MESH_LABS)
def test_every_mesh_case_grades_to_what_live_traffic_shows(lab: str, tmp_path: Path) -> None:
    """One mesh for the lab's cases, in a network namespace of its own (only loopback: the labs' addresses are
    free there, and nothing can leave); each case's traffic, then its checks."""
    from tests.mesh.conftest import mesh_built

    mesh_built()
    if not _own_network():
        pytest.skip("a network namespace of its own needs unshare -n (root, or user namespaces)")
    out = tmp_path / "results.json"
    env = {**os.environ, **{f"WORKSHOP_{n}_DIR": str(tmp_path / n.lower()) for n in ("STATE", "DATA", "CACHE")},
           "WORKSHOP_TOOLS_DIR": str(PREPARED), "NO_COLOR": "1", "KUBECACHEDIR": str(tmp_path / "kube-cache"),
           "TMPDIR": str(tmp_path / "tmp")}
    env.pop("WORKSHOP_SERVICES", None)
    (tmp_path / "tmp").mkdir()
    script = f'ip link set lo up && exec "{sys.executable}" -m tests.labs.mesh_learners_work "{out}" {lab}'
    proc = subprocess.run(["unshare", "-n", "sh", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=3600, check=False)
    assert out.is_file(), proc.stdout[-2000:] + proc.stderr[-4000:]
    results = json.loads(out.read_text())
    assert "broken" not in results, results.get("broken")
    wrong = []
    for name, expected in cases(lab).items():
        got = results.get(f"{lab}/{name}")
        if got is None:
            wrong.append(f"{lab}/{name}: not graded")
            continue
        for probe, seen in zip(expected["traffic"], got["traffic"], strict=True):
            if seen["carries"] != probe["carries"]:
                wrong.append(f"{lab}/{name}: after applying {probe['apply']} the responses "
                             f"{'lack' if probe['carries'] else 'carry'} {probe['headers']} (HTTP {seen['status']}; {seen['said']})")
        for step, verdict in expected["steps"].items():
            graded = got["steps"].get(step)
            verdict_got = "pass" if graded and graded["passed"] else "fail"
            if verdict_got != verdict:
                wrong.append(f"{lab}/{name} step {step}: expected {verdict}, graded {verdict_got} "
                             f"({'; '.join(graded['said']) if graded else 'no check ran'})")
    assert not wrong, "\n".join(wrong) + (f"\n(the runs said: {[r['problems'] for r in results.values()]})" if wrong else "")
