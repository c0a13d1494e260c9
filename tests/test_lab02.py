"""Lab 02 for real: the learner's envoy.yaml judged by Envoy itself, and their own running Envoy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from workshop.core.content import load_workshop
from workshop.core.runner import run_checks
from workshop.env import procs

pytestmark = pytest.mark.slow
LAB = load_workshop(ROOT).lab("02")


def _solution(tmp_path: Path, edit: tuple[str, str] | None = None) -> Path:
    folder = tmp_path / "ws" / LAB.slug
    shutil.copytree(LAB.solution_dir, folder)
    if edit:
        path = folder / "envoy.yaml"
        text = path.read_text()
        assert edit[0] in text
        path.write_text(text.replace(edit[0], edit[1]))
    return folder


def _verdict(folder: Path, step: str, name: str):
    verdicts = {v.name: v for v in run_checks(LAB, folder, steps=[step]).verdicts}
    assert procs.tracked() == []
    return verdicts[name]


def test_selftest_lab02(workshop_cli) -> None:
    data = json.loads(workshop_cli("selftest", "02", "--json", check_code=0).stdout)
    [lab] = data["labs"]
    assert lab["ok"] and {c["step"] for c in lab["checks"]} == {"config", "run"}


@pytest.mark.parametrize("edit,expect", [
    (("routes:\n", "routes: [\n"), "is not valid YAML"),
    (("port_value: 10000", "port_value: 10001"), "no listener on port 10000"),
    (("runtime: envoy.wasm.runtime.v8", "runtime: envoy.wasm.runtime.wamr"), "does not use the V8 runtime"),
    (("port_value: 8080", "port_value: 8081"), "not routed to httpbin"),
    (("connect_timeout: 1s", "connect_timeout: 1s\n    conect_timeout: 1s"), "Envoy rejects envoy.yaml"),
])
def test_a_broken_envoy_yaml(tmp_path: Path, edit: tuple[str, str], expect: str) -> None:
    v = _verdict(_solution(tmp_path, edit), "config", "envoy_yaml_routes_through_your_filter")
    assert v.status == "failed" and expect in v.message, v.explain()


def test_a_broken_yaml_names_its_line(tmp_path: Path) -> None:
    v = _verdict(_solution(tmp_path, ("routes:\n", "routes: [\n")), "config", "envoy_yaml_routes_through_your_filter")
    assert v.message.startswith("envoy.yaml:")


def test_no_envoy_running_says_how_to_start_it(tmp_path: Path) -> None:
    v = _verdict(_solution(tmp_path), "run", "your_envoy_runs_your_filter_on_v8")
    assert v.status == "failed" and "not running" in v.message and "func-e run -c envoy.yaml" in v.hint


def test_no_wasm_filter(tmp_path: Path) -> None:
    folder = _solution(tmp_path)
    starter = (LAB.starter_dir / "envoy.yaml").read_text()
    (folder / "envoy.yaml").write_text(starter.replace("direct_response: {status: 200, body: {inline_string: \"Envoy answers this itself\\n\"}}", "route: {cluster: httpbin}"))
    v = _verdict(folder, "config", "envoy_yaml_routes_through_your_filter")
    assert v.status == "failed" and "no Wasm HTTP filter" in v.message


def test_selftest_lab02_with_docker_services(workshop_cli, docker_engine) -> None:
    data = json.loads(workshop_cli("selftest", "02", "--backend", "docker", "--json", check_code=0).stdout)
    assert data["labs"][0]["ok"]
