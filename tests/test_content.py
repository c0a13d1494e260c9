from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT, make_content
from workshop.core.content import ContentError, load_lab, load_workshop


def test_lab01_steps_and_hints_are_read() -> None:
    lab = load_workshop(ROOT).lab("01")
    assert lab.slug == "01-first-filter"
    assert [s.id for s in lab.steps] == ["build", "test", "envoy"]
    build = lab.step("build")
    assert build.title == "Build a Proxy-Wasm module"
    assert len(build.hints) == 2 and "func main() {}" in build.hints[1]
    assert "### Hints" not in build.body and "go build" in build.body
    assert lab.files["test"] == ["main_test.go"]


@pytest.mark.parametrize("ref", ["01", "1", "01-first-filter", "first-filter"])
def test_lab_is_found_by_any_of_its_names(ref: str) -> None:
    assert load_workshop(ROOT).lab(ref).id == "01"


def test_unknown_lab_and_step_name_what_exists() -> None:
    ws = load_workshop(ROOT)
    with pytest.raises(LookupError, match="there is no lab '99'.*01-first-filter"):
        ws.lab("99")
    with pytest.raises(LookupError, match="no step 'nope'.*build, test, envoy"):
        ws.resolve("01/nope")


def _lab_md(tmp: Path, text: str) -> Path:
    root = make_content(tmp / "c", "")
    (root / "labs" / "01-tiny" / "lab.md").write_text(text)
    return root


def test_front_matter_errors_give_file_and_line(tmp_path: Path) -> None:
    root = _lab_md(tmp_path, "---\nid: '01'\ntitle: T\nsummary: S\nminutes: many\n---\n## A {#a}\n")
    with pytest.raises(ContentError) as err:
        load_lab(root, "01-tiny")
    assert err.value.where.endswith("lab.md:5") and "minutes" in err.value.message


def test_bad_yaml_and_missing_front_matter(tmp_path: Path) -> None:
    root = _lab_md(tmp_path, "---\nid: '01'\ntitle: [unclosed\n---\n")
    with pytest.raises(ContentError, match="not valid YAML"):
        load_lab(root, "01-tiny")
    (root / "labs" / "01-tiny" / "lab.md").write_text("# no front matter\n")
    with pytest.raises(ContentError, match="lab.md:1: lab.md must start with YAML front matter"):
        load_lab(root, "01-tiny")


def test_step_without_id_or_twice(tmp_path: Path) -> None:
    head = "---\nid: '01'\ntitle: T\nsummary: S\nminutes: 5\n---\n\n"
    root = _lab_md(tmp_path, head + "## First {#a}\n\ntext\n\n## Second\n")
    with pytest.raises(ContentError, match=r"lab.md:12: step heading 'Second' needs a stable id"):
        load_lab(root, "01-tiny")
    (root / "labs" / "01-tiny" / "lab.md").write_text(head + "## First {#a}\n\n## Again {#a}\n")
    with pytest.raises(ContentError, match="used twice"):
        load_lab(root, "01-tiny")


def test_id_must_match_folder(tmp_path: Path) -> None:
    root = _lab_md(tmp_path, "---\nid: '02'\ntitle: T\nsummary: S\nminutes: 5\n---\n## A {#a}\n")
    with pytest.raises(ContentError, match="does not match the folder"):
        load_lab(root, "01-tiny")


def test_a_broken_lab_does_not_hide_the_others(tmp_path: Path) -> None:
    root = make_content(tmp_path / "c", "")
    (root / "labs" / "02-broken").mkdir()
    ws = load_workshop(root)
    assert [lab.slug for lab in ws.labs] == ["01-tiny"]
    assert len(ws.problems) == 1 and "02-broken/lab.md: missing lab.md" in ws.problems[0]


def test_the_readme_documents_every_front_matter_key() -> None:
    from workshop.core.frontmatter import FrontMatter

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## How to write a lab"):]
    missing = [key for key in FrontMatter.model_fields if f"| `{key}` |" not in section]
    assert not missing, f"README's How to write a lab does not document: {missing}"
