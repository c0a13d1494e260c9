from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, make_content
from workshop.core import chain
from workshop.core.content import load_lab, load_workshop
from workshop.runs.validate import drop_repeated, validate, validate_chain

GOOD = 'import pytest\n\n@pytest.mark.step("one")\ndef test_ok(workspace):\n    assert True\n'


@pytest.mark.slow
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


def _copy_content(dest: Path) -> Path:
    """The shipped content, copied (checks too) so that a test may break it."""
    for part in ("labs", "solutions", "checks"):
        shutil.copytree(ROOT / part, dest / part, ignore=shutil.ignore_patterns("__pycache__", "plugin.wasm"))
    return dest


def test_every_shipped_starter_is_the_previous_solution_plus_its_own_files() -> None:
    """The chain as content states it: labs 02-10 continue the lab before them and repeat none of its files."""
    labs = load_workshop(ROOT).labs
    for before, lab in zip(labs, labs[1:], strict=False):
        assert lab.continues == before.slug, lab.slug
        assert chain.repeated_files(lab) == [], lab.slug
        files = chain.starter_files(lab)
        for rel, path in chain.solution_files(before).items():
            source = files[rel]
            assert source == path or source == lab.starter_dir / rel, (lab.slug, rel)


@pytest.mark.slow
def test_a_shared_file_changed_in_one_place_reaches_every_starter_and_solution(tmp_path: Path) -> None:
    """go.mod is written once (lab 01's starter) and the filter once per version of it: a change there is in
    every whole starter and solution that holds the file, and nowhere else needs an edit."""
    root = _copy_content(tmp_path / "content")
    gomod = root / "labs" / "01-first-filter" / "starter" / "go.mod"
    gomod.write_text(gomod.read_text() + "\n// changed once\n")
    main = root / "solutions" / "04-logs-and-metrics" / "main.go"
    main.write_text(main.read_text() + "\n// a fix made once\n")
    labs = load_workshop(root).labs
    for lab in labs:
        for files in (chain.starter_files(lab), chain.solution_files(lab)):
            assert files["go.mod"] == gomod, lab.slug
    takes_it = [lab.slug for lab in labs if chain.solution_files(lab)["main.go"] == main]
    assert takes_it == ["04-logs-and-metrics", "05-oci-image", "06-envoyfilter", "07-wasmplugin"], takes_it
    assert validate(root) == []


def test_a_change_made_in_a_later_solution_only_is_named(tmp_path: Path) -> None:
    """A fix to the filter written into lab 05's solution, where no step of lab 05 works on it: validate names
    lab 05's main.go and the file it should have been made in."""
    root = _copy_content(tmp_path / "content")
    main = (root / "solutions" / "04-logs-and-metrics" / "main.go").read_text()
    (root / "solutions" / "05-oci-image" / "main.go").write_text(main + "\n// a fix made here only\n")
    lab = load_lab(root, "05-oci-image")
    problems = [str(p) for p in validate_chain(lab)]
    assert len(problems) == 1, problems
    assert "solutions/05-oci-image/main.go: differs from" in problems[0], problems
    assert "solutions/04-logs-and-metrics/main.go" in problems[0], problems


@pytest.mark.slow
def test_repeated_starter_and_solution_files_are_named_and_dropped(tmp_path: Path) -> None:
    root = _copy_content(tmp_path / "content")
    shutil.copy2(root / "solutions" / "05-oci-image" / "push.sh", root / "labs" / "06-envoyfilter" / "starter" / "push.sh")
    shutil.copy2(root / "labs" / "07-wasmplugin" / "starter" / "pin.sh", root / "solutions" / "07-wasmplugin" / "pin.sh")
    problems = [str(p) for p in validate(root)]
    assert any("labs/06-envoyfilter/starter/push.sh: the same as" in p and "delete it from the starter" in p
               for p in problems), problems
    assert any("solutions/07-wasmplugin/pin.sh: the same as the starter's pin.sh" in p for p in problems), problems
    before = {lab.slug: {rel: p.read_bytes() for rel, p in chain.solution_files(lab).items()} for lab in load_workshop(root).labs}
    dropped = drop_repeated(root)
    assert sorted(p.relative_to(root).as_posix() for p in dropped) == ["labs/06-envoyfilter/starter/push.sh",
                                                                      "solutions/07-wasmplugin/pin.sh"]
    assert validate(root) == []
    after = {lab.slug: {rel: p.read_bytes() for rel, p in chain.solution_files(lab).items()} for lab in load_workshop(root).labs}
    assert after == before


def test_continues_must_name_an_earlier_lab(tmp_path: Path) -> None:
    root = make_content(tmp_path, GOOD)
    md = root / "labs" / "01-tiny" / "lab.md"
    md.write_text(md.read_text().replace("minutes: 5\n", "minutes: 5\ncontinues: 00-nothing\n"))
    problems = [str(p) for p in validate(root)]
    assert any("lab.md:6: continues: 00-nothing is not an earlier lab" in p for p in problems), problems


def test_tools_and_services_are_names_the_workshop_knows(tmp_path: Path) -> None:
    root = make_content(tmp_path, GOOD)
    md = root / "labs" / "01-tiny" / "lab.md"
    md.write_text(md.read_text().replace("minutes: 5\n", "minutes: 5\ntools: [go, hammer]\nservices: [mesh, moon]\n"
                                         "logins: {moon: {user: u, password: p}, private-registry: {user: u, password: p}}\n"))
    problems = [str(p) for p in validate(root)]
    assert any("lab.md:6: tools: 'hammer' is not a tool `workshop doctor` knows" in p for p in problems), problems
    assert any("lab.md:7: services: 'moon' is not a service" in p for p in problems), problems
    assert any("lab.md:8: logins: 'moon' is not a service" in p for p in problems), problems
    assert len(problems) == 3, problems


def test_two_labs_giving_a_service_different_logins_are_named(tmp_path: Path) -> None:
    root = make_content(tmp_path, GOOD)
    shutil.copytree(root / "labs" / "01-tiny", root / "labs" / "02-tiny")
    (root / "labs" / "02-tiny" / "lab.md").write_text((root / "labs" / "02-tiny" / "lab.md").read_text().replace("id: '01'", "id: '02'"))
    for lab, password in (("01-tiny", "one"), ("02-tiny", "two")):
        md = root / "labs" / lab / "lab.md"
        md.write_text(md.read_text().replace("minutes: 5\n", f"minutes: 5\nlogins: {{private-registry: {{user: u, password: {password}}}}}\n"))
    problems = [str(p) for p in validate(root) if "logins" in str(p)]
    assert len(problems) == 1 and "02-tiny/lab.md:6: logins: gives private-registry another login than 01-tiny" in problems[0], problems


def test_doctor_says_which_labs_need_each_tool() -> None:
    from workshop.env.tools import labs_needing

    needs = labs_needing(load_workshop(ROOT).labs)
    assert needs["func-e"] == ["02"]  # lab 02's tools: names it
    assert needs["Go"] == [f"{n:02d}" for n in range(1, 11)]
    assert "06" in needs["Istio mesh"] and "01" not in needs["Istio mesh"]  # by its services: [..., mesh]


@pytest.mark.slow
def test_drop_repeated_deletes_what_the_chain_brings(workshop_cli, tmp_path: Path) -> None:
    """Starters and solutions written out whole (content from before the chain, or a merge) lose their
    repeated files, and every whole starter and solution stays what it was."""
    root = _copy_content(tmp_path / "content")
    labs = load_workshop(root).labs
    whole = {lab.slug: ({r: p.read_bytes() for r, p in chain.starter_files(lab).items()},
                        {r: p.read_bytes() for r, p in chain.solution_files(lab).items()}) for lab in labs}
    for lab in labs:  # every folder written out whole
        for folder, files in ((lab.starter_dir, whole[lab.slug][0]), (lab.solution_dir, whole[lab.slug][1])):
            for rel, data in files.items():
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                (folder / rel).write_bytes(data)
    workshop_cli("validate", "--content", str(root), check_code=1)
    said = workshop_cli("validate", "--drop-repeated", "--content", str(root), check_code=0).stdout
    assert "deleted" in said and "labs/06-envoyfilter/starter/main.go" in said and "solutions/07-wasmplugin/main.go" in said, said
    assert not (root / "labs" / "07-wasmplugin" / "starter" / "main.go").exists()
    assert (root / "labs" / "07-wasmplugin" / "starter" / "wasmplugin.yaml").exists()  # its own TODO version stays
    labs = load_workshop(root).labs
    assert {lab.slug: ({r: p.read_bytes() for r, p in chain.starter_files(lab).items()},
                       {r: p.read_bytes() for r, p in chain.solution_files(lab).items()}) for lab in labs} == whole
    assert sum(1 for _ in (root / "solutions").rglob("*") if _.is_file()) == sum(
        1 for _ in (ROOT / "solutions").rglob("*") if _.is_file() and "__pycache__" not in _.parts and _.name != "plugin.wasm")
