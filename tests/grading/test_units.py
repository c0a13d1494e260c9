"""Fast tests: safe extraction, signed events, the room view, the gradebook formats."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path

import pytest

from workshop.core.verdict import Verdict
from workshop.grading import gradebook
from workshop.grading.grade import LabGrade, SubmissionGrade
from workshop.grading.job_process import sign, verify
from workshop.grading.submission import (
    FOLDER,
    Submission,
    SubmissionError,
    identify,
    materialize,
)

LAB = "01-first-filter"


def _tar(path: Path, *members: tuple[str, str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data.encode()))
            elif kind in ("sym", "hard"):
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname = data
                tar.addfile(info)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
                tar.addfile(info)
    return path


@pytest.mark.parametrize("member", [
    ("/etc/evil", "file", "x"), ("a/../../evil", "file", "x"), ("link", "sym", "/root/.ssh/id_rsa"),
    ("link", "sym", "../../outside"), ("hard", "hard", "/etc/passwd"), ("pipe", "fifo", ""),
])
def test_unsafe_tarballs_are_refused(tmp_path: Path, member: tuple[str, str, str]) -> None:
    tarball = _tar(tmp_path / "bob.tar.gz", (f"{LAB}/main.go", "file", "package main\n"), member)
    with pytest.raises(SubmissionError, match="unsafe"):
        materialize(identify(str(tarball)), tmp_path / "out", [LAB])
    assert not (tmp_path / "evil").exists() and not Path("/etc/evil").exists()


def test_a_wrapped_tarball_gives_its_workspace(tmp_path: Path) -> None:
    tarball = _tar(tmp_path / "alice.tgz", (f"alice/{LAB}/main.go", "file", "package main\n"),
                   (f"alice/{LAB}/same.go", "sym", "main.go"))
    sub = identify(str(tarball))
    assert (sub.name, sub.kind) == ("alice", "tarball")
    ws = materialize(sub, tmp_path / "out", [LAB])
    assert (ws / LAB / "main.go").read_text() == "package main\n" and (ws / LAB / "same.go").is_symlink()


def test_a_folder_copy_drops_links_that_leave_it(tmp_path: Path) -> None:
    src = tmp_path / "carol" / LAB
    src.mkdir(parents=True)
    (src / "main.go").write_text("package main\n")
    (src / "key").symlink_to("/root/.ssh/id_rsa")
    (src / "up").symlink_to("../../other")
    (src / "ok").symlink_to("main.go")
    ws = materialize(identify(str(tmp_path / "carol")), tmp_path / "out", [LAB])
    assert sorted(p.name for p in (ws / LAB).iterdir()) == ["main.go", "ok"]


def test_only_signed_events_in_order_are_believed() -> None:
    key = b"k" * 32
    line = sign(key, 0, {"event": "done"})
    assert verify(key, line, 0) == {"event": "done"}
    assert verify(key, line, 1) is None  # replayed
    assert verify(b"x" * 32, line, 0) is None  # forged with another key
    assert verify(key, json.dumps({"event": "result", "verdict": {"status": "passed"}}), 0) is None


def test_gradebook_formats(tmp_path: Path) -> None:
    sub = Submission("dave", str(tmp_path / "dave"), FOLDER)
    (tmp_path / "dave" / LAB).mkdir(parents=True)
    ok = Verdict(lab=LAB, step="build", name="builds", nodeid="a", status="passed", points=2)
    bad = Verdict(lab=LAB, step="envoy", name="header", nodeid="b", status="failed", message="no header, sorry\nsee: x",
                  points=3)
    grade = SubmissionGrade(submission=sub, labs=[LabGrade(lab=LAB, verdicts=[ok, bad])], forged_lines=2)
    assert (grade.points, grade.max_points, grade.percent) == (2, 5, 40.0)

    class FakeLab:
        id, slug, files = "01", LAB, {"envoy": ["main.go"]}

    labs = [FakeLab()]
    assert "2/5" in gradebook.table([grade], labs) and "forged" in gradebook.table([grade], labs)
    assert gradebook.to_csv([grade], labs).splitlines()[1].startswith(f"dave,{sub.source},2,2,5,40.0,graded")
    assert "| ❌ dave | 2/5 | 2/5 | 40 |" in gradebook.markdown([grade], labs)
    (line,) = gradebook.github_annotations([grade], labs, cwd=tmp_path)
    assert line.startswith(f"::error file=dave/{LAB}/main.go,title=dave%3A {LAB}/envoy/header failed::no header, sorry%0A")
    (xml,) = gradebook.junit_files([grade], tmp_path / "junit")
    assert 'failures="1"' in xml.read_text()


def test_the_seeded_go_cache_is_linked_not_copied(tmp_path: Path) -> None:
    from workshop.grading.job_process import link_gocache

    seed = tmp_path / "seed"
    (seed / "0a").mkdir(parents=True)
    (seed / "0a" / "0abc-a").write_text("v1 entry\n")
    (seed / "trim.txt").write_text("1\n")  # an old trim time: Go would trim the seed's old entries away
    link_gocache(seed, tmp_path / "cache")
    entry = tmp_path / "cache" / "0a" / "0abc-a"
    assert entry.is_symlink() and entry.read_text() == "v1 entry\n"
    trim = tmp_path / "cache" / "trim.txt"
    assert not trim.is_symlink() and abs(int(trim.read_text()) - time.time()) < 60


def test_grading_on_the_host_stops_when_a_lab_port_is_taken() -> None:
    import socket

    from workshop.core.content import load_workshop
    from workshop.core.locations import content_root
    from workshop.grading.grade import GradingError, check_host_ports, fixed_ports

    lab = load_workshop(content_root()).lab("05")
    assert fixed_ports(lab) == {5000: "registry"}
    try:
        holder = socket.create_server(("127.0.0.1", 5000))
    except OSError:
        pytest.skip("port 5000 is in use here already")
    with holder, pytest.raises(GradingError, match="port 5000 .* lab 05 .* --sandbox docker"):
        check_host_ports([lab])


def test_a_sandbox_may_burst_to_twice_its_share_of_the_machine_never_beyond() -> None:
    from workshop.grading.job_runner import sandbox_cpus

    assert sandbox_cpus(2, 2) == 2.0  # two jobs on two cores: each may use both while the other waits
    assert sandbox_cpus(8, 8) == 2.0 and sandbox_cpus(8, 2) == 8.0
    assert sandbox_cpus(2, 1) == 2.0 and sandbox_cpus(1, 4) == 1.0  # never more than the machine, never below one
