"""A class graded in shards (`workshop grade --shard I/N`, one per CI runner) and merged with
`workshop merge-grades` gives the gradebook of one run; merging refuses what does not make a class."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_content
from workshop.grading.shards import Shard, ShardError, merge

# One lab whose one check reads the learner's answer: learners score differently, in seconds.
CHECKS = '''
import pytest
from workshop.checking import fail


@pytest.mark.step("one", points=2)
def test_the_answer(workspace):
    """answer.txt holds the solution"""
    got = (workspace / "answer.txt").read_text().strip() if (workspace / "answer.txt").exists() else "nothing"
    if got != "solution":
        fail("answer.txt does not hold the solution", expected="solution", seen=got, hint="write solution into it")
'''
ANSWERS = {"ana": "solution", "ben": "starter", "cleo": "solution", "dev": "nope", "eli": "solution"}
TIMES = ("seconds", "tool_seconds")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workshop", *args], capture_output=True, text=True, timeout=300, check=False)


def without_times(node: object) -> object:
    """The gradebook less how long things took (the one thing two runs never share)."""
    if isinstance(node, dict):
        return {k: without_times(v) for k, v in node.items() if k not in TIMES}
    if isinstance(node, list):
        return [without_times(v) for v in node]
    return node


@pytest.mark.slow
def test_a_class_graded_in_two_shards_and_merged_is_graded_as_in_one_run(tmp_path: Path) -> None:
    content = make_content(tmp_path / "content", CHECKS)
    folders = []
    for name, answer in ANSWERS.items():
        (tmp_path / "class" / name / "01-tiny").mkdir(parents=True)
        (tmp_path / "class" / name / "01-tiny" / "answer.txt").write_text(answer + "\n")
        folders.append(str(tmp_path / "class" / name))
    grade = ["grade", *folders, "--content", str(content), "--sandbox", "none", "-q"]

    whole = cli(*grade, "--json", str(tmp_path / "whole.json"), "--csv", str(tmp_path / "whole.csv"))
    assert whole.returncode == 0, whole.stdout + whole.stderr
    for part in (1, 2):
        shard = cli(*grade, "--shard", f"{part}/2", "--json", str(tmp_path / f"shard-{part}.json"))
        assert shard.returncode == 0, shard.stdout + shard.stderr
    first = json.loads((tmp_path / "shard-1.json").read_text())
    assert [s["learner"] for s in first["submissions"]] == ["ana", "cleo", "eli"]  # positions 0, 2, 4 of 5
    assert first["shard"] == {"part": 1, "parts": 2, "class_size": 5, "positions": [0, 2, 4]}

    merged = cli("merge-grades", str(tmp_path / "shard-2.json"), str(tmp_path / "shard-1.json"), "--content", str(content),
                 "--json", str(tmp_path / "merged.json"), "--csv", str(tmp_path / "merged.csv"))
    assert merged.returncode == 0, merged.stdout + merged.stderr
    one_run = json.loads((tmp_path / "whole.json").read_text())
    assert without_times(json.loads((tmp_path / "merged.json").read_text())) == without_times(one_run)
    assert (tmp_path / "merged.csv").read_text() == (tmp_path / "whole.csv").read_text()
    assert [(s["learner"], s["points"]) for s in one_run["submissions"]] == [
        ("ana", 2), ("ben", 0), ("cleo", 2), ("dev", 0), ("eli", 2)]
    assert merged.stdout == whole.stdout  # the same table

    alone = cli("merge-grades", str(tmp_path / "shard-1.json"), "--content", str(content))
    assert alone.returncode == 2 and "part(s) 2 of 2 are missing" in alone.stderr, alone.stderr
    assert cli(*grade, "--shard", "3/2").returncode == 2


def test_shards_split_the_class_evenly_and_merging_checks_the_parts() -> None:
    parts = [Shard.parse(f"{i}/3").positions(8) for i in (1, 2, 3)]
    assert parts == [[0, 3, 6], [1, 4, 7], [2, 5]]
    for bad in ("0/2", "3/2", "2", "a/b", ""):
        with pytest.raises(ShardError, match="I/N"):
            Shard.parse(bad)

    def doc(part: int, names: list[str], labs: list[str] | None = None) -> dict:
        shard = Shard(part, 2).describe(3)
        return {"sandbox": "none", "labs": labs or ["01-tiny"], "shard": shard,
                "submissions": [{"learner": n, "labs": []} for n in names]}

    _, grades = merge([("b", doc(2, ["y"])), ("a", doc(1, ["x", "z"]))])
    assert [g.name for g in grades] == ["x", "y", "z"]
    with pytest.raises(ShardError, match="both part 1/2"):
        merge([("a", doc(1, ["x", "z"])), ("a2", doc(1, ["x", "z"]))])
    with pytest.raises(ShardError, match="graded differently"):
        merge([("a", doc(1, ["x", "z"])), ("b", doc(2, ["y"], ["02-other"]))])
