"""Step test: the learner's unit tests, run with the SDK's proxytest emulator and a plugin configuration."""

import pytest

from workshop.checking import fail, first_failure
from workshop.checking.mutants import IGNORES_ITS_CONFIGURATION, STARTS_ON_ANY_CONFIGURATION


@pytest.mark.step("test", timeout=180)
def test_go_test_passes(workspace, go):
    """your unit tests pass (go test)"""
    if not list(workspace.glob("*_test.go")):
        fail("there is no test file in your lab folder", expected="main_test.go", hint="restore it with `workshop reset 03/test`")
    result = go.test()
    if result.timed_out:
        fail("go test did not finish in time", hint="does a test wait for something that never comes?")
    if not result.ok:
        fail("go test fails", seen=first_failure(result.output), hint="read the first failure; file:line points at it")


def _passes_on(go, mutant) -> bool:
    if not go.test().ok:
        fail("first make `go test` pass on your own filter (see the check above)")
    return go.test_mutant(mutant).ok


@pytest.mark.step("test", timeout=180)
def test_your_tests_catch_an_ignored_configuration(go):
    """your tests fail on your own filter once it ignores its configuration"""
    if _passes_on(go, IGNORES_ITS_CONFIGURATION):
        fail("your tests still pass when your filter gets no configuration, whatever is configured",
             expected="go test fails when GetPluginConfiguration finds nothing although the test configured headers",
             hint='start the plugin with WithPluginConfiguration([]byte(`{"headers": {"x-team": "blue"}}`)) '
                  "and call t.Errorf when the response lacks x-team: blue")


@pytest.mark.step("test", timeout=180)
def test_your_tests_catch_an_accepted_broken_configuration(go):
    """your tests fail on your own filter once it starts with a broken configuration"""
    if _passes_on(go, STARTS_ON_ANY_CONFIGURATION):
        fail("your tests still pass when your plugin starts on a configuration that is not JSON",
             expected="go test fails when OnPluginStart's failure is reported as OK",
             hint="start the plugin with WithPluginConfiguration([]byte(`not json`)) and call t.Errorf "
                  "unless host.StartPlugin() returns types.OnPluginStartStatusFailed")
