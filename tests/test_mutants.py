"""Mutants: SDK functions rewritten in a copy of the SDK, so a learner's own tests run against their own
code with one behaviour taken out, whatever their structure and names."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from workshop.checking import mutants
from workshop.core import chain
from workshop.core.content import load_workshop

SOURCE = """package proxywasm

func AddHttpResponseHeader(key, value string) error {
	return addMapValue(1, key, value)
}

func GetPluginConfiguration() ([]byte, error) {
	return getBuffer(2, 0, 10)
}
"""


def test_a_rewrite_keeps_the_original_under_another_name_and_adds_one_with_the_same_signature() -> None:
    out = mutants.rewrite_source(SOURCE, [mutants.Rewrite("x.go", "AddHttpResponseHeader", "return nil")])
    assert f"func {mutants.KEPT}AddHttpResponseHeader(key, value string) error {{" in out
    assert "func AddHttpResponseHeader(key, value string) error {\n\treturn nil\n}" in out
    assert out.count("func GetPluginConfiguration()") == 1  # the others stay as they were


def test_a_rewrite_can_call_the_original_with_the_same_arguments() -> None:
    body = "{original}({args})\n\treturn nil"
    out = mutants.rewrite_source(SOURCE, [mutants.Rewrite("x.go", "AddHttpResponseHeader", body)])
    assert f"\t{mutants.KEPT}AddHttpResponseHeader(key, value)\n\treturn nil" in out


def test_a_function_the_sdk_does_not_have_is_a_problem_of_the_check() -> None:
    with pytest.raises(mutants.MutantError, match="NoSuchFunction"):
        mutants.rewrite_source(SOURCE, [mutants.Rewrite("x.go", "NoSuchFunction", "return nil")])


@pytest.mark.slow
def test_every_mutant_builds_against_the_sdk_the_labs_use(tmp_path: Path) -> None:
    """The labs' SDK, rewritten by each mutant, still builds: the mutants fit the SDK version pinned in the labs."""
    if shutil.which("go") is None:
        pytest.skip("needs Go")
    lab = chain.write_files(chain.solution_files(load_workshop(ROOT).lab("03")), tmp_path / "solution")
    sdk = subprocess.run(["go", "list", "-m", "-f", "{{.Dir}}", mutants.SDK], cwd=lab, capture_output=True, text=True,
                         check=True, timeout=60).stdout.strip()
    for mutant in (mutants.ADDS_NO_RESPONSE_HEADER, mutants.IGNORES_ITS_CONFIGURATION, mutants.STARTS_ON_ANY_CONFIGURATION):
        copy = mutants.mutated_sdk(mutant, Path(sdk), tmp_path / "mutants")
        assert copy == mutants.mutated_sdk(mutant, Path(sdk), tmp_path / "mutants")  # made once, then found
        built = subprocess.run(["go", "vet", "./proxywasm/..."], cwd=copy, capture_output=True, text=True, timeout=300,
                               env={**__import__("os").environ, "GOFLAGS": "-mod=mod"})
        assert built.returncode == 0, built.stdout + built.stderr
