"""`workshop new-lab NN-name` scaffolds a lab that continues the chain and passes validate at once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from workshop.core import chain
from workshop.core.content import load_workshop
from workshop.core.frontmatter import FrontMatter
from workshop.runs.validate import validate


@pytest.mark.slow
def test_a_new_lab_continues_the_last_one_and_passes_validate_and_selftest(workshop_cli, tmp_path: Path) -> None:
    root = tmp_path / "content"
    for part in ("labs", "solutions", "checks"):
        shutil.copytree(ROOT / part, root / part, ignore=shutil.ignore_patterns("__pycache__", "plugin.wasm"))
    said = workshop_cli("new-lab", "11-rate-limits", "--content", str(root), check_code=0).stdout
    assert "continues 10-ingress-gateway" in said
    assert validate(root) == []
    lab = load_workshop(root).lab("11")
    assert lab.continues == "10-ingress-gateway" and sorted(chain.files_in(lab.starter_dir)) == ["notes.md"]
    assert chain.starter_files(lab)["main.go"] == root / "solutions" / "08-updates-and-failures" / "main.go"
    assert sorted(chain.files_in(lab.solution_dir)) == ["notes.md"]  # a solution holds only what the lab's work changes
    text = lab.lab_md.read_text()
    for key in FrontMatter.model_fields:  # every key is written, with what it is for
        line = next(ln for ln in text.splitlines() if ln.startswith(f"{key}:"))
        assert "#" in line, line
    data = json.loads(workshop_cli("selftest", "11", "--content", str(root), "--json", check_code=0).stdout)
    assert data["ok"] and [c["name"] for c in data["labs"][0]["checks"]] == ["notes_say_what_was_seen"]
    workshop_cli("new-lab", "11-again", "--content", str(root), check_code=2)  # the number is taken


def test_the_first_lab_of_a_new_workshop_has_no_chain(workshop_cli, tmp_path: Path) -> None:
    root = tmp_path / "content"
    (root / "labs").mkdir(parents=True)
    workshop_cli("new-lab", "01-hello", "--content", str(root), check_code=0)
    assert validate(root) == []
    assert load_workshop(root).lab("01").continues is None
    assert "NN-slug" in workshop_cli("new-lab", "Hello", "--content", str(root), check_code=2).stderr
