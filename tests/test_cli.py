"""The `workshop` command as a learner and a CI job use it."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import LAB01
from workshop.env.services import GROUPS, LAB_SERVICES, SERVICES


def test_help_lists_every_command(workshop_cli) -> None:
    out = workshop_cli("--help", check_code=0).stdout
    for command in ("list", "start", "check", "hint", "solve", "reset", "selftest", "validate", "doctor", "prepare"):
        assert command in out
    assert "--junit" in workshop_cli("check", "--help", check_code=0).stdout


def test_env_help_names_the_catalogs_services_and_what_up_starts(workshop_cli) -> None:
    out = workshop_cli("env", "--help", check_code=0).stdout
    assert all(f"\n  {name} " in out for name in SERVICES), out  # every service, from the catalog
    assert f"start {', '.join(LAB_SERVICES[:-1])} and {LAB_SERVICES[-1]} as local processes" in out
    assert all(group in out for group in GROUPS) and "start them all" not in out
    up = workshop_cli("env", "up", "--help", check_code=0).stdout
    assert all(f"--{n.replace('_', '-')}-port N" in up for n in ("envoy", "envoy_admin", "registry", "httpbin"))
    assert "--port NAME=N" in up and "ingress " in up
    loaded = subprocess.run([sys.executable, "-c", "import sys; from workshop.cli import build_parser; build_parser(); "
                             "print('workshop.env.services' in sys.modules)"], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False", "building the parser (every `workshop` command) must not import the catalog"


def test_unknown_lab_is_a_usage_error(workshop_cli) -> None:
    proc = workshop_cli("start", "99", check_code=2)
    assert "there is no lab '99'" in proc.stderr and "01-first-filter" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_check_before_start_says_how(workshop_cli, isolated: Path) -> None:
    proc = workshop_cli("check", "01", check_code=2)
    assert "workshop start 01" in proc.stderr


def test_a_workspace_that_does_not_exist(workshop_cli, isolated: Path) -> None:
    proc = workshop_cli("check", "01", "--workspace", str(isolated / "nowhere"), check_code=2)
    assert "not started" in proc.stderr and "Traceback" not in proc.stderr


def test_start_list_and_resume(workshop_cli, isolated: Path) -> None:
    workshop_cli("start", "01", check_code=0)
    assert (isolated / "ws" / LAB01 / "main.go").exists()
    data = json.loads(workshop_cli("list", "--json", check_code=0).stdout)
    assert data["current"] == LAB01
    assert [s["status"] for s in data["labs"][0]["steps"]] == ["not started"] * 3


@pytest.mark.slow
def test_check_the_starter_fails_with_reports(workshop_cli, isolated: Path) -> None:
    workshop_cli("start", "01", check_code=0)
    junit = isolated / "report.xml"
    proc = workshop_cli("check", "01", "--json", "--junit", str(junit), check_code=1)
    data = json.loads(proc.stdout)
    assert data["summary"]["checks"] == 5 and data["summary"]["passed"] == 0
    assert "func main" in data["verdicts"][0]["hint"]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "5" and suite.get("failures") == "5"
    listed = json.loads(workshop_cli("list", "--json").stdout)
    assert [s["status"] for s in listed["labs"][0]["steps"]] == ["failing"] * 3
    human = workshop_cli("check", "01/build", check_code=1).stdout
    assert "✗ build/builds_a_proxy_wasm_module" in human and "try     :" in human


def test_hints_come_one_at_a_time(workshop_cli) -> None:
    workshop_cli("start", "01", check_code=0)
    first = json.loads(workshop_cli("hint", "--json", check_code=0).stdout)
    second = json.loads(workshop_cli("hint", "01/build", "--json", check_code=0).stdout)
    third = json.loads(workshop_cli("hint", "01/build", "--json", check_code=0).stdout)
    assert (first["step"], first["number"], second["number"], third["number"]) == ("build", 1, 2, 2)
    assert first["hint"] != second["hint"]


def test_solve_and_reset_keep_backups(workshop_cli, isolated: Path) -> None:
    workshop_cli("start", "01", check_code=0)
    main = isolated / "ws" / LAB01 / "main.go"
    main.write_text("// my attempt\n")
    assert "+func main() {}" in workshop_cli("solve", "01", "--diff", check_code=0).stdout
    assert main.read_text() == "// my attempt\n"  # --diff changes nothing
    solved = json.loads(workshop_cli("solve", "01", "--json", check_code=0).stdout)
    assert "func main() {}" in main.read_text()
    assert (Path(solved["backup"]) / "main.go").read_text() == "// my attempt\n"
    reset = json.loads(workshop_cli("reset", "01/test", "--json", check_code=0).stdout)
    assert reset["written"] == ["main_test.go"]
    assert "func main() {}" in main.read_text()


@pytest.mark.slow
def test_validate_and_doctor_answer_in_json(workshop_cli) -> None:
    assert json.loads(workshop_cli("validate", "--json", check_code=0).stdout)["ok"] is True
    tools = {t["name"]: t for t in json.loads(workshop_cli("doctor", "--json").stdout)}
    assert tools["Go"]["found"] and tools["Envoy"]["found"]
    assert tools["func-e"]["labs"] == ["02"] and "10" in tools["kubectl"]["labs"]  # from each lab.md's tools:


def test_doctor_names_the_labs_a_missing_tool_blocks(workshop_cli, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PATH": "/usr/bin:/bin", "WORKSHOP_TOOLS_DIR": str(tmp_path / "no-tools")}
    proc = subprocess.run([sys.executable, "-m", "workshop", "doctor"], capture_output=True, text=True, env=env, timeout=60)
    lines = proc.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[1:2] == ["func-e"])
    assert "not found" in lines[at] and "labs that need it: 02" in lines[at + 2], proc.stdout


@pytest.mark.slow
def test_another_content_folder(workshop_cli, tmp_path: Path) -> None:
    from tests.conftest import make_content

    checks = 'import pytest\n\n@pytest.mark.step("one")\ndef test_answer(workspace):\n    assert (workspace / "answer.txt").read_text() == "solution\\n"\n'
    root = make_content(tmp_path / "c", checks)
    workshop_cli("--content", str(root), "start", "01", check_code=0)
    workshop_cli("check", "01", "--content", str(root), check_code=1)
    workshop_cli("solve", "01", "--content", str(root), check_code=0)
    workshop_cli("check", "01", "--content", str(root), check_code=0)
    assert workshop_cli("selftest", "--content", str(root), check_code=0).stdout.rstrip().endswith("solution")


@pytest.mark.slow
def test_on_a_terminal_the_running_check_is_shown_then_replaced_by_its_verdict(workshop_cli, isolated: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    workshop_cli("start", "01", check_code=0)
    leader, follower = pty.openpty()
    # a terminal that says what it is (CI runs with TERM unset or dumb, where nothing is redrawn)
    proc = subprocess.Popen([sys.executable, "-m", "workshop", "check", "01/build"], stdout=follower, stderr=follower,
                            env={**os.environ, "TERM": "xterm-256color"})
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the command has ended
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert proc.wait(timeout=120) == 1  # the starter fails the build step
    text = out.decode()
    assert "… build/builds_a_proxy_wasm_module" in text and "(running)" in text
    # the same line (back to its start, erased), now the verdict
    assert "\r\x1b[2K" in text and "✗ build/builds_a_proxy_wasm_module" in text


@pytest.mark.own_network  # httpbin's default port, and lab 02's
def test_a_missing_tool_is_one_sentence_and_verbose_shows_the_traceback(workshop_cli, isolated: Path, monkeypatch) -> None:
    """A user error deep in a command (a service whose program is not installed) is the error and its fix."""
    import os

    from workshop.env.tools import tool_path

    found = tool_path("go-httpbin")
    monkeypatch.setenv("WORKSHOP_TOOLS_DIR", str(isolated / "no-tools"))
    if found is not None:  # hide the folder that holds it on PATH too
        monkeypatch.setenv("PATH", os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep)
                                                     if d and not (Path(d) / "go-httpbin").exists()))
    proc = workshop_cli("env", "up", "httpbin", check_code=1)
    assert "Traceback" not in proc.stderr
    assert "go-httpbin" in proc.stderr and "workshop prepare" in proc.stderr
    proc = workshop_cli("selftest", "02", check_code=3)
    assert "Traceback" not in proc.stderr and "workshop prepare" in proc.stderr
    verbose = workshop_cli("selftest", "02", "--verbose", check_code=3)
    assert "Traceback" in verbose.stderr and "workshop prepare" in verbose.stderr.splitlines()[-1]
