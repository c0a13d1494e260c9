from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT, make_content
from workshop.runs.validate import validate

GOOD = 'import pytest\n\n@pytest.mark.step("one")\ndef test_ok(workspace):\n    assert True\n'


def test_shipped_content_is_valid() -> None:
    assert validate(ROOT) == []


def test_tiny_content_is_valid(tmp_path: Path) -> None:
    assert validate(make_content(tmp_path, GOOD)) == []


def test_each_problem_names_file_and_line(tmp_path: Path) -> None:
    checks = (
        "import pytest\n\n"
        '@pytest.mark.step("nope")\ndef test_unknown_step(workspace):\n    pass\n\n'
        "def test_no_marker(workspace):\n    pass\n"
    )
    root = make_content(tmp_path, checks, step_ids=("one", "two"))
    problems = [str(p) for p in validate(root)]
    assert any("test_tiny.py:4: check test_unknown_step names step 'nope'" in p for p in problems), problems
    assert any("test_tiny.py:7: check test_no_marker has no @pytest.mark.step" in p for p in problems), problems
    assert any("lab.md:" in p and "step 'one' has no check" in p for p in problems), problems
    assert any("step 'two' has no check" in p for p in problems), problems


def test_missing_solution_and_syntax_error(tmp_path: Path) -> None:
    root = make_content(tmp_path, "def test_x(:\n")
    for f in (root / "solutions" / "01-tiny").iterdir():
        f.unlink()
    problems = [str(p) for p in validate(root)]
    assert any("solution folder is missing or empty" in p for p in problems), problems
    assert any("test_tiny.py:1: the check file has a syntax error" in p for p in problems), problems


def test_not_a_workshop(tmp_path: Path) -> None:
    assert "no labs/ folder" in str(validate(tmp_path)[0])
