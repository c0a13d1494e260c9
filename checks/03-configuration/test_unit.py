"""Step test: the learner's unit tests, run with the SDK's proxytest emulator and a plugin configuration."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workshop.checking import fail

MUTANTS = Path(__file__).parent / "mutants"


def _first_failure(output: str) -> str:
    """The failing test, its message and the learner's own file:line, without the Go runtime's frames."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    picked = [ln for ln in lines if ln.startswith(("---", "panic")) or
              (".go:" in ln and not ln.startswith("/") and "+0x" not in ln)]
    mine = [ln for ln in lines if ln.startswith("/") and "/go/src/" not in ln and "/pkg/mod/" not in ln and ".go:" in ln]
    return "\n".join((picked or lines)[:4] + [ln.split(" +0x")[0] for ln in mine[:2]])


def _against(mutant: str, workspace: Path, go, run, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run the learner's tests against one of our broken filters."""
    if not go.test().ok:
        fail("first make `go test` pass on your own filter (see the check above)")
    broken = tmp_path / mutant
    broken.mkdir()
    for f in workspace.iterdir():
        if f.name in ("go.mod", "go.sum") or f.name.endswith("_test.go"):
            shutil.copy2(f, broken / f.name)
    shutil.copy2(MUTANTS / f"{mutant}.go", broken / "main.go")
    result = run(["go", "test", "-count=1", "./..."], cwd=broken)
    if not result.ok and ("[build failed]" in result.output or "undefined:" in result.output):
        fail("your tests do not build against another filter with the starter's names",
             seen=_first_failure(result.output),
             hint="keep pluginContext, newPluginContext and headerFilter, and test through the emulator "
                  "(proxytest.NewEmulatorOption().WithPluginContext(newPluginContext))")
    return result


@pytest.mark.step("test", timeout=180)
def test_go_test_passes(workspace, go):
    """your unit tests pass (go test)"""
    if not list(workspace.glob("*_test.go")):
        fail("there is no test file in your lab folder", expected="main_test.go", hint="restore it with `workshop reset 03/test`")
    result = go.test()
    if result.timed_out:
        fail("go test did not finish in time", hint="does a test wait for something that never comes?")
    if not result.ok:
        fail("go test fails", seen=_first_failure(result.output), hint="read the first failure; file:line points at it")


@pytest.mark.step("test", timeout=180)
def test_your_tests_catch_an_ignored_configuration(workspace, go, run, tmp_path):
    """your tests fail on a filter that ignores its configuration"""
    if _against("ignores_config", workspace, go, run, tmp_path).ok:
        fail("your tests still pass when the filter ignores its configuration",
             expected="go test fails for a filter that always adds x-wasm-workshop: hello",
             hint='start the plugin with WithPluginConfiguration([]byte(`{"headers": {"x-team": "blue"}}`)) '
                  "and call t.Errorf when the response lacks x-team: blue")


@pytest.mark.step("test", timeout=180)
def test_your_tests_catch_an_accepted_broken_configuration(workspace, go, run, tmp_path):
    """your tests fail on a filter that starts with a broken configuration"""
    if _against("accepts_bad_config", workspace, go, run, tmp_path).ok:
        fail("your tests still pass when the filter starts with a configuration that is not JSON",
             expected="go test fails for a filter whose OnPluginStart returns OK on `not json`",
             hint="start the plugin with WithPluginConfiguration([]byte(`not json`)) and call t.Errorf "
                  "unless host.StartPlugin() returns types.OnPluginStartStatusFailed")
