from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT
from workshop.core import workspace as ws
from workshop.core.chain import solution_files, starter_files
from workshop.core.content import load_workshop

LAB = load_workshop(ROOT).lab("01")
LAB05 = load_workshop(ROOT).lab("05")


def test_start_copies_the_starter_and_keeps_learner_files(tmp_path: Path) -> None:
    change = ws.start(tmp_path, LAB)
    assert sorted(change.written) == ["go.mod", "go.sum", "main.go", "main_test.go"]
    main = tmp_path / LAB.slug / "main.go"
    main.write_text("// my work\n")
    again = ws.start(tmp_path, LAB)
    assert again.written == [] and "main.go" in again.kept
    assert main.read_text() == "// my work\n"


def test_solve_backs_up_what_it_replaces(tmp_path: Path) -> None:
    ws.start(tmp_path, LAB)
    main = tmp_path / LAB.slug / "main.go"
    main.write_text("// my work\n")
    (tmp_path / LAB.slug / "notes.txt").write_text("mine")
    change = ws.put(tmp_path, LAB, solution_files(LAB), reason="solve")
    assert main.read_text() == (LAB.solution_dir / "main.go").read_text()
    assert change.backup is not None and (change.backup / "main.go").read_text() == "// my work\n"
    assert (tmp_path / LAB.slug / "notes.txt").read_text() == "mine"  # files the solution lacks are left alone
    assert "go.mod" in change.kept


def test_reset_one_step_touches_only_its_files(tmp_path: Path) -> None:
    ws.put(tmp_path, LAB, solution_files(LAB), reason="solve")
    change = ws.put(tmp_path, LAB, starter_files(LAB), reason="reset", only=LAB.files["test"])
    assert change.written == ["main_test.go"]
    assert (tmp_path / LAB.slug / "main.go").read_text() == (LAB.solution_dir / "main.go").read_text()
    assert (tmp_path / LAB.slug / "main_test.go").read_text() == (LAB.starter_dir / "main_test.go").read_text()


def test_a_lab_that_continues_another_starts_from_its_solution(tmp_path: Path) -> None:
    """Lab 05's folder is lab 04's solution plus lab 05's own files; reset puts back both kinds."""
    change = ws.start(tmp_path, LAB05)
    folder = tmp_path / LAB05.slug
    before = ROOT / "solutions" / "04-logs-and-metrics"
    assert set(change.written) == {"Dockerfile", "envoy.yaml", "go.mod", "go.sum", "main.go", "main_test.go", "push.sh",
                                   "runtime-config.json"}
    assert (folder / "main.go").read_bytes() == (before / "main.go").read_bytes()  # not in labs/05-oci-image/starter
    assert (folder / "push.sh").read_bytes() == (LAB05.starter_dir / "push.sh").read_bytes()  # lab 05's TODO version
    (folder / "main.go").write_text("// mine\n")
    (folder / "push.sh").write_text("# mine\n")
    reset = ws.put(tmp_path, LAB05, starter_files(LAB05), reason="reset")
    assert sorted(reset.written) == ["main.go", "push.sh"] and reset.backup is not None
    assert (folder / "main.go").read_bytes() == (before / "main.go").read_bytes()


def test_two_backups_in_the_same_second_do_not_collide(tmp_path: Path) -> None:
    ws.start(tmp_path, LAB)
    a = ws.backup(tmp_path, LAB, "reset")
    b = ws.backup(tmp_path, LAB, "reset")
    assert a and b and a != b


def test_diff_shows_the_solution_changes(tmp_path: Path) -> None:
    ws.start(tmp_path, LAB)
    text = ws.diff(tmp_path, LAB, solution_files(LAB))
    assert "+func main() {}" in text and "yours/main.go" in text


def test_a_renumbered_lab_keeps_the_learner_s_folder_and_progress(tmp_path: Path, workshop_cli) -> None:
    """Labs renumbered since a learner began (lab.md's `formerly:`): their folder and progress follow."""
    import json

    from workshop.core.progress import ProgressStore, StepProgress

    ws = tmp_path / "ws"
    (ws / "06-wasmplugin").mkdir(parents=True)
    (ws / "06-wasmplugin" / "wasmplugin.yaml").write_text("mine\n")
    store = ProgressStore(ws)

    def before(p):  # type: ignore[no-untyped-def]
        p.labs["06-wasmplugin"] = {"write": StepProgress(status="passed")}
        p.current_lab = "06-wasmplugin"

    store.update(before)
    listed = workshop_cli("list", "--json", "--workspace", str(ws), check_code=0)
    assert "renumbered" in listed.stderr and "06-wasmplugin is now 07-wasmplugin" in listed.stderr
    assert (ws / "07-wasmplugin" / "wasmplugin.yaml").read_text() == "mine\n" and not (ws / "06-wasmplugin").exists()
    data = json.loads(listed.stdout)
    assert data["current"] == "07-wasmplugin"
    lab = next(lab for lab in data["labs"] if lab["slug"] == "07-wasmplugin")
    assert lab["started"] and lab["steps"][0]["status"] == "passed"
    again = workshop_cli("list", "--workspace", str(ws), check_code=0)
    assert "renumbered" not in again.stderr  # once only
