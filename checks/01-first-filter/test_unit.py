"""Step test: the learner's own unit test, run with the SDK's proxytest emulator."""

import shutil

import pytest

from workshop.checking import fail

MUTANT = __import__("pathlib").Path(__file__).parent / "mutants" / "no_header.go"


def _first_failure(output: str) -> str:
    """The failing test, its message and the learner's own file:line, without the Go runtime's frames."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    picked = [ln for ln in lines if ln.startswith(("---", "panic")) or
              (".go:" in ln and not ln.startswith("/") and "+0x" not in ln)]
    mine = [ln for ln in lines if ln.startswith("/") and "/go/src/" not in ln and "/pkg/mod/" not in ln and ".go:" in ln]
    return "\n".join((picked or lines)[:4] + [ln.split(" +0x")[0] for ln in mine[:2]])


@pytest.mark.step("test", timeout=180)
def test_go_test_passes(workspace, go):
    """your unit test passes (go test)"""
    if not list(workspace.glob("*_test.go")):
        fail("there is no test file in your lab folder", expected="main_test.go", hint="restore it with `workshop reset 01/test`")
    result = go.test()
    if result.timed_out:
        fail("go test did not finish in time", hint="does a test wait for something that never comes?")
    if not result.ok:
        fail("go test fails", seen=_first_failure(result.output), hint="read the first failure; file:line points at it")


@pytest.mark.step("test", timeout=180)
def test_your_test_catches_a_missing_header(workspace, go, run, tmp_path):
    """your test fails on a filter that forgets the header"""
    if not go.test().ok:
        fail("first make `go test` pass on your own filter (see the check above)")
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in workspace.iterdir():
        if f.name in ("go.mod", "go.sum") or f.name.endswith("_test.go"):
            shutil.copy2(f, broken / f.name)
    shutil.copy2(MUTANT, broken / "main.go")
    result = run(["go", "test", "./..."], cwd=broken)
    if result.ok:
        fail("your test still passes when the filter adds no header",
             expected="go test fails for a filter without x-wasm-workshop: hello",
             hint="look for the header in host.GetCurrentResponseHeaders(id) and call t.Errorf when it is missing")
    if "[build failed]" in result.output or "undefined:" in result.output:
        fail("your test does not build against another filter with the starter's names",
             seen=_first_failure(result.output),
             hint="keep headerFilter and newHeaderFilter, and test only through them")
