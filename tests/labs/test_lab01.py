"""Lab 01 for real: Go, the Proxy-Wasm Go SDK and Envoy judge the starter, the solution and bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import LAB01, ROOT, left_behind
from workshop.checking import early
from workshop.core import chain
from workshop.core.content import load_workshop
from workshop.env import http
from workshop.runs.checks import run_checks

pytestmark = [pytest.mark.slow, pytest.mark.own_network]  # the lab's fixed ports: free in a namespace of its own
LAB = load_workshop(ROOT).lab("01")


def _edit(ws: Path, old: str, new: str, name: str = "main.go") -> None:
    path = ws / LAB01 / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _verdicts(ws: Path, steps: list[str] | None = None) -> dict[str, object]:
    run = run_checks(LAB, ws / LAB01, steps=steps)
    assert left_behind() == []  # no Envoy, go or pytest left behind
    return {v.name: v for v in run.verdicts}


def test_selftest_lab01(workshop_cli) -> None:
    proc = workshop_cli("selftest", "01", "--json", check_code=0)
    data = json.loads(proc.stdout)
    [lab] = data["labs"]
    assert lab["ok"] and {c["step"] for c in lab["checks"]} == {"build", "test", "envoy"}
    assert all(c["starter"] != "passed" and c["solution"] == "passed" for c in lab["checks"])


def test_code_that_does_not_compile_shows_file_and_line(lab01_copy) -> None:
    ws = lab01_copy("solution")
    _edit(ws, 'proxywasm.LogInfof("wasm-workshop', 'proxywasm.LogInfof(undefinedThing, "wasm-workshop')
    v = _verdicts(ws, ["build"])["builds_a_proxy_wasm_module"]
    assert v.status == "failed" and "does not compile" in v.message
    assert re.search(r"main\.go:\d+:\d+: undefined: undefinedThing", v.seen)


def test_a_filter_that_panics_on_every_request(lab01_copy) -> None:
    ws = lab01_copy("solution")
    _edit(ws, "\tif err := proxywasm.AddHttpResponseHeader", '\tpanic("boom on purpose")\n\tif err := proxywasm.AddHttpResponseHeader')
    v = _verdicts(ws, ["envoy"])["envoy_adds_header_and_logs"]
    assert v.status == "failed" and "crashed" in v.message
    assert "panic: boom on purpose" in v.seen and re.search(r"main\.go:\d+", v.seen)


def test_a_filter_that_loops_forever(lab01_copy) -> None:
    ws = lab01_copy("solution")
    _edit(ws, "\tif err := proxywasm.AddHttpResponseHeader", "\tfor n := 0; ; n++ {\n\t\t_ = n\n\t}\n\tif err := proxywasm.AddHttpResponseHeader")
    v = _verdicts(ws, ["envoy"])["envoy_adds_header_and_logs"]
    assert v.status == "failed" and "got no answer" in v.message and "loop forever" in v.hint
    assert v.seconds < 60


def test_a_missing_go_mod(lab01_copy) -> None:
    ws = lab01_copy("solution")
    (ws / LAB01 / "go.mod").unlink()
    v = _verdicts(ws, ["build"])["builds_a_proxy_wasm_module"]
    assert v.status == "failed" and "go.mod" in v.message


def test_a_filter_that_logs_twice_per_request(lab01_copy) -> None:
    ws = lab01_copy("solution")
    _edit(ws, "\treturn types.ActionContinue\n}", '\tproxywasm.LogInfo("and once more")\n\treturn types.ActionContinue\n}')
    v = _verdicts(ws, ["envoy"])["envoy_adds_header_and_logs"]
    assert v.status == "failed" and "3 requests gave 6 lines" in v.message


def test_a_test_that_checks_nothing_is_caught(lab01_copy) -> None:
    ws = lab01_copy("solution")
    test = ws / LAB01 / "main_test.go"
    text = test.read_text()
    test.write_text(text[: text.index("\tfound := false")] + "}\n")
    verdicts = _verdicts(ws, ["test"])
    assert verdicts["go_test_passes"].status == "passed"
    v = verdicts["your_test_catches_a_missing_header"]
    assert v.status == "failed" and "still passes" in v.message


NOT_WASM_CHECK = '''
import pytest

@pytest.mark.step("one")
def test_envoy_refuses_it(envoy, workspace):
    envoy.run_filter(workspace / "plugin.wasm")
'''


@pytest.mark.parametrize("what,expect", [
    ("elf", "Linux executable (ELF)"), ("text", "text file"), ("truncated", "Envoy would not start"),
])
def test_a_plugin_wasm_that_is_not_wasm(tmp_path: Path, what: str, expect: str) -> None:
    from tests.conftest import make_content

    root = make_content(tmp_path / "c", NOT_WASM_CHECK)
    lab = load_workshop(root).lab("01")
    folder = tmp_path / "w" / lab.slug
    folder.mkdir(parents=True)
    data = {"elf": Path(shutil.which("true") or "/bin/true").read_bytes(), "text": b"hello, I am not wasm\n",
            "truncated": (ROOT / "tests" / "data" / "tiny.wasm").read_bytes()[:20]}[what]
    (folder / "plugin.wasm").write_bytes(data)
    [v] = run_checks(lab, folder).verdicts
    assert v.status == "failed" and expect in v.message
    assert left_behind() == []


def test_one_run_builds_unchanged_sources_once(tmp_path: Path) -> None:
    """The build and envoy steps share one build in a run; any change to the sources builds again."""
    from workshop.checking.commands import Commands, Deadline
    from workshop.checking.fixtures import Go

    folder = tmp_path / LAB01
    chain.write_files(chain.solution_files(load_workshop(ROOT).lab(LAB01)), folder)
    transcript: list[str] = []
    go = Go(Commands(folder, Deadline(120), transcript), tmp_path / "go")
    first = go.build_wasm(inspect=False)
    again = go.build_wasm(inspect=False)
    assert again.sha256 == first.sha256 and "not built again" in transcript[-1]
    (folder / "main.go").write_text((folder / "main.go").read_text().replace("hello", "hullo"))
    changed = go.build_wasm(inspect=False)
    assert changed.sha256 != first.sha256 and transcript[-1].startswith("$ go build")
    (folder / "plugin.wasm").write_bytes(b"\0asm\1\0\0\0")  # the output replaced behind its back
    assert go.build_wasm(inspect=False).sha256 == changed.sha256 and transcript[-1].startswith("$ go build")


def test_the_envoy_check_takes_the_envoy_started_when_the_build_check_built_the_module(lab01_copy) -> None:
    ws = lab01_copy("solution")
    run = run_checks(LAB, ws / LAB01)
    assert [v.status for v in run.verdicts] == ["passed"] * 5, [(v.name, v.message) for v in run.verdicts]
    envoy_check = next(v for v in run.verdicts if v.step == "envoy")
    assert "Envoy was started on this same module as soon as it was built" in envoy_check.output
    assert left_behind() == []
    alone = run_checks(LAB, ws / LAB01, steps=["envoy"])  # no earlier check builds: it starts its own
    assert alone.passed and "as soon as it was built" not in alone.verdicts[0].output


def test_an_early_envoy_is_not_taken_once_the_module_changed(lab01_copy, tmp_path: Path) -> None:
    lab = lab01_copy("solution") / LAB01
    subprocess.run(["go", "build", "-buildmode=c-shared", "-o", "plugin.wasm", "."], cwd=lab, check=True,
                   env={**os.environ, "GOOS": "wasip1", "GOARCH": "wasm"})
    wasm = lab / "plugin.wasm"
    early.start(wasm, tmp_path / "one")
    proxy = early.take(early.filter_config(wasm), wait=60).proxy
    assert proxy is not None and proxy.alive()
    try:
        assert http.request(proxy.url + "/", timeout=5).header_values("x-wasm-workshop") == ["hello"]
    finally:
        proxy.stop()
    early.start(wasm, tmp_path / "two")
    wasm.write_bytes(wasm.read_bytes() + b"\x00\x05\x04edit")  # one custom section more: other bytes, still a module
    assert early.take(early.filter_config(wasm), wait=60) == early.Taken()
    assert early.take(early.filter_config(wasm), wait=60) == early.Taken()  # taken once, never twice
    assert left_behind() == []


def test_an_envoy_that_would_not_start_says_the_same_whether_started_early_or_not(lab01_copy) -> None:
    ws = lab01_copy("solution")
    _edit(ws, "\tproxywasm.SetHttpContext(newHeaderFilter)", '\tpanic("no start on purpose")')
    whole = {v.name: v for v in run_checks(LAB, ws / LAB01).verdicts}["envoy_adds_header_and_logs"]
    alone = _verdicts(ws, ["envoy"])["envoy_adds_header_and_logs"]
    assert whole.status == alone.status == "failed" and "would not start" in whole.message
    assert (whole.message, whole.expected, whole.hint) == (alone.message, alone.expected, alone.hint)

    def envoys_words(seen: str) -> list[str]:  # less the line quoting its configuration: Envoy words it anew each start
        return [line for line in seen.splitlines() if "initializing config" not in line]

    assert envoys_words(whole.seen) == envoys_words(alone.seen) and "Failed to initialize Wasm code" in whole.seen
    assert left_behind() == []
