"""Lab 02 for real: the learner's envoy.yaml judged by Envoy itself, and their own running Envoy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, left_behind
from workshop.core import chain
from workshop.core.content import load_workshop
from workshop.runs.checks import run_checks

pytestmark = [pytest.mark.slow, pytest.mark.own_network]  # the lab's fixed ports: free in a namespace of its own
LAB = load_workshop(ROOT).lab("02")


def _solution(tmp_path: Path, edit: tuple[str, str] | None = None) -> Path:
    folder = tmp_path / "ws" / LAB.slug
    chain.write_files(chain.solution_files(LAB), folder)
    if edit:
        path = folder / "envoy.yaml"
        text = path.read_text()
        assert edit[0] in text
        path.write_text(text.replace(edit[0], edit[1]))
    return folder


def _verdict(folder: Path, step: str, name: str):
    verdicts = {v.name: v for v in run_checks(LAB, folder, steps=[step]).verdicts}
    assert left_behind() == []
    return verdicts[name]


def test_selftest_lab02(workshop_cli) -> None:
    data = json.loads(workshop_cli("selftest", "02", "--json", check_code=0).stdout)
    [lab] = data["labs"]
    assert lab["ok"] and {c["step"] for c in lab["checks"]} == {"config", "run"}


CONFIG_CHECK = "envoy_runs_your_configuration"
FILTER = """          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: wasm-workshop
                vm_config:
                  runtime: envoy.wasm.runtime.v8
                  code: {local: {filename: plugin.wasm}}
"""
ROUTER = """          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"""


@pytest.mark.parametrize("edit,expect,hint", [
    (("routes:\n", "routes: [\n"), "is not valid YAML", "indentation"),
    ((FILTER + ROUTER, ROUTER + FILTER), "Envoy rejects envoy.yaml", "first line"),
    (("runtime: envoy.wasm.runtime.v8", "runtime: envoy.wasm.runtime.wamr"), "Envoy rejects envoy.yaml", "runs Wasm on V8"),
    (("port_value: 8080", "port_value: 8081"), "no request through your listener on 10000 reached httpbin", "127.0.0.1:8080"),
    (("port_value: 10000", "port_value: 10001"), "no listener on port 10000", "port_value to 10000"),
    (("port_value: 9901", "port_value: 15000"), "Envoy's admin should listen on 127.0.0.1:9901", "port_value: 9901"),
    (("filename: plugin.wasm", "filename: filter.wasm"), "Envoy rejects envoy.yaml", "first line"),
    (("connect_timeout: 1s", "connect_timeout: 1s\n    conect_timeout: 1s"), "Envoy rejects envoy.yaml", "first line"),
])
def test_a_broken_envoy_yaml(tmp_path: Path, edit: tuple[str, str], expect: str, hint: str) -> None:
    v = _verdict(_solution(tmp_path, edit), "config", CONFIG_CHECK)
    assert v.status == "failed" and expect in v.message and hint in v.hint, v.explain()


def test_ports_and_names_are_the_learner_s_own(tmp_path: Path) -> None:
    """Envoy judges: other listener and cluster names, localhost by DNS, a filter named as the learner likes."""
    folder = _solution(tmp_path)
    for old, new in (("name: envoy.filters.http.wasm", "name: my-filter"), ("name: ingress", "name: front"),
                     ("route: {cluster: httpbin}", "route: {cluster: backend}"), ("- name: httpbin\n", "- name: backend\n"),
                     ("cluster_name: httpbin", "cluster_name: backend"), ("type: STATIC", "type: STRICT_DNS\n    dns_lookup_family: V4_ONLY"),
                     ("address: 127.0.0.1, port_value: 8080", "address: localhost, port_value: 8080")):
        path = folder / "envoy.yaml"
        assert old in path.read_text(), old
        path.write_text(path.read_text().replace(old, new))
    v = _verdict(folder, "config", CONFIG_CHECK)
    assert v.passed, v.explain()


def test_a_broken_yaml_names_its_line(tmp_path: Path) -> None:
    v = _verdict(_solution(tmp_path, ("routes:\n", "routes: [\n")), "config", CONFIG_CHECK)
    assert v.message.startswith("envoy.yaml:")


def test_no_envoy_running_says_how_to_start_it(tmp_path: Path) -> None:
    v = _verdict(_solution(tmp_path), "run", "your_envoy_runs_your_filter_on_v8")
    assert v.status == "failed" and "not running" in v.message and "func-e run -c envoy.yaml" in v.hint


def test_no_wasm_filter(tmp_path: Path) -> None:
    v = _verdict(_solution(tmp_path, (FILTER, "")), "config", CONFIG_CHECK)
    assert v.status == "failed" and "without a Wasm HTTP filter" in v.message


@pytest.mark.own_network(False)  # the containers run on the host's network; a namespace of its own cannot reach them
def test_selftest_lab02_with_docker_services(workshop_cli, docker_engine) -> None:
    from workshop.env.http import port_free

    held = [p for p in (8080, 9901, 10000) if not port_free(p)]  # httpbin's, and the learner's Envoy's (lab 02's own)
    if held:
        pytest.skip(f"lab 02's fixed ports {held} are held by another program on this host")
    data = json.loads(workshop_cli("selftest", "02", "--backend", "docker", "--json", check_code=0).stdout)
    assert data["labs"][0]["ok"]
