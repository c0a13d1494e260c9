"""Step test: the learner's own unit test, run with the SDK's proxytest emulator."""

import pytest

from workshop.checking import fail, first_failure
from workshop.checking.mutants import ADDS_NO_RESPONSE_HEADER, sets_exactly

HEADER, VALUE = "x-wasm-workshop", "hello"


@pytest.mark.step("test", timeout=180)
def test_go_test_passes(workspace, go):
    """your unit test passes (go test)"""
    if not list(workspace.glob("*_test.go")):
        fail("there is no test file in your lab folder", expected="main_test.go", hint="restore it with `workshop reset 01/test`")
    result = go.test()
    if result.timed_out:
        fail("go test did not finish in time", hint="does a test wait for something that never comes?")
    if not result.ok:
        fail("go test fails", seen=first_failure(result.output), hint="read the first failure; file:line points at it")


@pytest.mark.step("test", timeout=180)
def test_your_test_catches_a_missing_header(go):
    """your test fails on your own filter once it adds no header"""
    if not go.test().ok:
        fail("first make `go test` pass on your own filter (see the check above)")
    if go.test_mutant(ADDS_NO_RESPONSE_HEADER).ok:
        fail("your test still passes when your filter adds no header",
             expected="go test fails when AddHttpResponseHeader (or a Replace call) does nothing",
             hint="read the response headers back from the emulator (host.GetCurrentResponseHeaders(id)) "
                  "and call t.Errorf unless x-wasm-workshop: hello is among them")


@pytest.mark.step("test", timeout=180)
def test_your_test_accepts_a_filter_that_does_what_the_lab_asks(go):
    """your test passes on your own filter once it sets exactly x-wasm-workshop: hello"""
    if not go.test().ok:
        fail("first make `go test` pass on your own filter (see the check above)")
    result = go.test_mutant(sets_exactly(HEADER, VALUE))
    if not result.ok:
        fail(f"your test fails on a filter that sets exactly {HEADER}: {VALUE} on every response",
             expected=f"go test passes when the response carries {HEADER}: {VALUE}", seen=first_failure(result.output),
             hint=f"does your test (and your filter) expect another header name or value? The lab asks for {HEADER}: {VALUE}")
