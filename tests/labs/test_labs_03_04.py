"""Labs 03 and 04 for real: Go, the Proxy-Wasm Go SDK and Envoy judge the starters, the solutions and bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT, left_behind
from workshop.core import chain
from workshop.core.content import load_workshop
from workshop.runs.checks import run_checks

pytestmark = [pytest.mark.slow, pytest.mark.own_network]  # the lab's fixed ports: free in a namespace of its own


def _solution(tmp_path: Path, lab_id: str, edits: list[tuple[str, str]], name: str = "main.go"):  # type: ignore[no-untyped-def]
    """A copy of the lab's solution with ``edits`` (old, new) made to ``name``; returns (lab, folder)."""
    lab = load_workshop(ROOT).lab(lab_id)
    folder = tmp_path / "ws" / lab.slug
    chain.write_files(chain.solution_files(lab), folder)
    path = folder / name
    text = path.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text)
    return lab, folder


def _verdict(lab, folder: Path, step: str, name: str):  # type: ignore[no-untyped-def]
    run = run_checks(lab, folder, steps=[step])
    assert left_behind() == []  # no Envoy, go or pytest left behind (the warm check worker waits on purpose)
    return {v.name: v for v in run.verdicts}[name]


@pytest.mark.parametrize("lab_id,steps", [("03", {"config", "invalid", "test"}), ("04", {"metric", "logs"})])
def test_selftest(workshop_cli, lab_id: str, steps: set[str]) -> None:
    proc = workshop_cli("selftest", lab_id, "--json", check_code=0)
    [lab] = json.loads(proc.stdout)["labs"]
    assert lab["ok"] and {c["step"] for c in lab["checks"]} == steps
    assert all(c["starter"] != "passed" and c["solution"] == "passed" for c in lab["checks"]), lab["checks"]


# Lab 03: configuration

PARSE_FAILS = ('\t\tproxywasm.LogCriticalf("wasm-workshop: invalid plugin configuration: %v", err)\n'
               "\t\treturn types.OnPluginStartStatusFailed")


def test_03_headers_kept_in_a_global_variable(tmp_path: Path) -> None:
    lab, folder = _solution(tmp_path, "03", [
        ("\tp.headers = headers\n", "\tp.headers = headers\n\tshared = headers\n"),
        ("headers: p.headers}", "headers: shared}"),
        ("// NewHttpContext is called", "var shared [][2]string\n\n// NewHttpContext is called"),
    ])
    v = _verdict(lab, folder, "config", "headers_follow_the_configuration")
    assert v.status == "failed" and "added the same headers" in v.message
    assert "one Wasm VM" in v.hint and "blue: x-lab: 03, x-team: green" in v.seen


def test_03_a_panic_on_a_broken_configuration(tmp_path: Path) -> None:
    lab, folder = _solution(tmp_path, "03", [(PARSE_FAILS, "\t\tpanic(err)")])
    v = _verdict(lab, folder, "invalid", "a_broken_configuration_stops_the_plugin")
    assert v.status == "failed" and "panicked on a broken configuration" in v.message
    assert "panic: unexpected end of JSON input" in v.seen and re.search(r"main\.go:\d+", v.seen)
    assert "OnPluginStartStatusFailed" in v.hint


def test_03_refusing_without_saying_why(tmp_path: Path) -> None:
    lab, folder = _solution(tmp_path, "03", [(PARSE_FAILS, "\t\treturn types.OnPluginStartStatusFailed")])
    v = _verdict(lab, folder, "invalid", "a_broken_configuration_stops_the_plugin")
    assert v.status == "failed" and "did not log why" in v.message and "Plugin broken failed to load" in v.seen


def test_03_a_test_that_does_not_try_a_broken_configuration(tmp_path: Path) -> None:
    lab, folder = _solution(tmp_path, "03", [
        ("if status != types.OnPluginStartStatusFailed {", "if false && status != types.OnPluginStartStatusFailed {"),
    ], name="main_test.go")
    v = _verdict(lab, folder, "test", "your_tests_catch_an_accepted_broken_configuration")
    assert v.status == "failed" and "still pass" in v.message and "not JSON" in v.message


# Lab 04: logs and metrics

def test_04_a_metric_with_another_name(tmp_path: Path) -> None:
    lab, folder = _solution(tmp_path, "04", [('= "wasm_workshop_hello_requests"', '= "hello_requests"')])
    v = _verdict(lab, folder, "metric", "the_counter_counts_hello_requests")
    assert v.status == "failed" and "named hello_requests" in v.message and "hello_requests{} 3" in v.seen


def test_04_counting_requests_without_the_header(tmp_path: Path) -> None:
    lab, folder = _solution(tmp_path, "04", [("\tif err == nil {\n\t\tf.hellos.Increment(1)", "\tf.hellos.Increment(1)\n\tif err == nil {")])
    v = _verdict(lab, folder, "metric", "the_counter_counts_hello_requests")
    assert v.status == "failed" and "counts every request" in v.message
    assert v.seen == "wasm_workshop_hello_requests{} 5"


def test_04_logging_requests_without_the_header(tmp_path: Path) -> None:
    lab, folder = _solution(tmp_path, "04", [(
        '\tif err == nil {\n\t\tf.hellos.Increment(1)\n\t\tproxywasm.LogInfof("wasm-workshop: hello from %s", value)',
        '\tproxywasm.LogInfof("wasm-workshop: hello from %s", value)\n\tif err == nil {\n\t\tf.hellos.Increment(1)',
    )])
    v = _verdict(lab, folder, "logs", "each_hello_request_logs_its_value")
    assert v.status == "failed" and "without a hello header gave hello lines too (2 of them)" in v.message
