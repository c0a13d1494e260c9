"""`workshop selftest --repeat N`: a check whose verdict on the solution changes from run to run is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import make_content

STEADY = 'import pytest\n\n@pytest.mark.step("one")\ndef test_answer(workspace):\n    assert (workspace / "answer.txt").read_text() == "solution\\n"\n'
# Passes on the solution only the first time it runs there: a count kept outside the workspace.
FLAKY = STEADY + (
    '\n\n@pytest.mark.step("one")\ndef test_only_once(workspace):\n'
    '    assert (workspace / "answer.txt").read_text() == "solution\\n"\n'
    '    count = __import__("pathlib").Path({count!r})\n'
    '    runs = int(count.read_text()) + 1 if count.exists() else 1\n'
    '    count.write_text(str(runs))\n'
    '    assert runs == 1, f"run {{runs}}"\n'
)


@pytest.mark.slow
def test_repeat_names_the_check_whose_verdict_changes(workshop_cli, tmp_path: Path) -> None:
    root = make_content(tmp_path / "c", FLAKY.format(count=str(tmp_path / "count")))
    data = json.loads(workshop_cli("selftest", "--content", str(root), "--repeat", "3", "--json", check_code=1).stdout)
    checks = {c["name"]: c for c in data["labs"][0]["checks"]}
    assert checks["answer"]["solution_runs"] == ["passed", "passed", "passed"] and not checks["answer"]["flaky"]
    assert checks["only_once"]["solution_runs"] == ["passed", "failed", "failed"] and checks["only_once"]["flaky"]
    assert any("only_once is flaky" in p and "passed, failed, failed" in p for p in data["labs"][0]["problems"])
    (tmp_path / "count").unlink()
    said = workshop_cli("selftest", "--content", str(root), "--repeat", "2", check_code=1).stdout
    assert "only_once is flaky" in said and "on the solution, run 2: " in said and "selftest: FAILED" in said


@pytest.mark.slow
def test_repeat_passes_a_steady_check(workshop_cli, tmp_path: Path) -> None:
    root = make_content(tmp_path / "c", STEADY)
    data = json.loads(workshop_cli("selftest", "01", "--content", str(root), "--repeat", "3", "--json", check_code=0).stdout)
    assert data["labs"][0]["checks"][0]["solution_runs"] == ["passed"] * 3
    assert "at least 1" in workshop_cli("selftest", "--content", str(root), "--repeat", "0", check_code=2).stderr
