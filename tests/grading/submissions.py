"""Submissions of lab 01 made at test time from its solution and its starter, with the score each must get."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from workshop.core import chain
from workshop.core.content import load_lab

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = Path(__file__).resolve().parent / "hostile_submissions"
LAB = "01-first-filter"
SOLUTION = ROOT / "solutions" / LAB
STARTER = ROOT / "labs" / LAB / "starter"
HANDLER = "func (f *headerFilter) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {\n"


@dataclass
class Case:
    name: str
    points: int  # out of 5: build, go test, your test catches a missing header, it accepts the right one, Envoy
    why: str


def content(dest: Path) -> Path:
    """A content folder holding lab 01 only, so that other labs in progress do not matter.

    The checks are a copy: graded without a sandbox, a submission can write next to them.
    """
    for part, src in (("labs", ROOT / "labs" / LAB), ("checks", ROOT / "checks" / LAB), ("solutions", SOLUTION)):
        (dest / part).mkdir(parents=True, exist_ok=True)
        if part == "checks":
            shutil.copytree(src, dest / part / LAB, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dest / part / LAB).symlink_to(src)
    return dest


def _lab(folder: Path, base: Path) -> Path:
    """The lab's whole starter or whole solution (the chain adds the starter's files to the solution's own)."""
    lab = load_lab(ROOT, LAB)
    return chain.write_files(chain.solution_files(lab) if base == SOLUTION else chain.starter_files(lab), folder / LAB)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def correct(folder: Path) -> None:
    _lab(folder, SOLUTION)


def partly_correct(folder: Path) -> None:
    """The filter is right, the unit test is still the starter's TODO."""
    lab = _lab(folder, SOLUTION)
    shutil.copy2(STARTER / "main_test.go", lab / "main_test.go")


def does_not_compile(folder: Path) -> None:
    _edit(_lab(folder, SOLUTION) / "main.go", "return types.ActionContinue", "return types.ActionContinue +")


def loops_forever(folder: Path) -> None:
    _edit(_lab(folder, SOLUTION) / "main.go", HANDLER, HANDLER + "\tfor {\n\t}\n")


def panics(folder: Path) -> None:
    _edit(_lab(folder, SOLUTION) / "main.go", HANDLER, HANDLER + '\tpanic("boom")\n')


def fakes_a_pass(folder: Path, procfd: bool, checks_dir: Path) -> None:
    """The starter made to build, plus every way of faking results we know of."""
    lab = _lab(folder, STARTER)
    _edit(lab / "main.go", "func init() {", "func main() {}\n\nfunc init() {")
    text = (HOSTILE / "forge_test.go").read_text().replace("__PROCFD__", "yes" if procfd else "no")
    (lab / "main_test.go").write_text(text.replace("__CHECKS__", str(checks_dir)))
    for where in (folder, lab, folder / "checks" / LAB):
        where.mkdir(parents=True, exist_ok=True)
        shutil.copy2(HOSTILE / "conftest.py", where / "conftest.py")
        shutil.copy2(HOSTILE / "pytest_fakepass.py", where / "pytest_fakepass.py")
        (where / "yaml.py").write_text("raise SystemExit('the submission shadowed a module')\n")
    (folder / "workshop").mkdir()
    (folder / "workshop" / "__init__.py").write_text("raise SystemExit('the submission shadowed the workshop')\n")


def escape(folder: Path, what: str, canary: Path | None = None, port: int = 9) -> None:
    """The solution plus a test that passes only if ``what`` escapes the sandbox."""
    lab = _lab(folder, SOLUTION)
    text = (HOSTILE / "escape_test.go").read_text().replace("__WHAT__", what)
    text = text.replace("__CANARY__", str(canary or "/nonexistent")).replace("__PORT__", str(port))
    (lab / "escape_test.go").write_text(text.replace("__SOLUTION__", str(SOLUTION / "main.go")))


BASIC = [
    Case("correct", 5, "everything passes"),
    Case("partly-correct", 2, "build and Envoy pass; the unit test is still a TODO"),
    Case("does-not-compile", 0, "nothing builds"),
    Case("loops-forever", 1, "it builds; go test and Envoy hang until their time limit"),
    Case("panics", 1, "it builds; go test and Envoy see the panic"),
    Case("fakes-a-pass", 1, "only the build passes, whatever it prints or drops"),
]
ESCAPES = [Case(f"escape-{w}", 2, f"{w} is contained, so its test fails") for w in ("read", "network", "forkbomb", "diskfill")]


def make(name: str, folder: Path, *, procfd: bool, checks_dir: Path, canary: Path | None = None, port: int = 9) -> Path:
    folder.mkdir(parents=True)
    builders = {"correct": correct, "partly-correct": partly_correct, "does-not-compile": does_not_compile,
                "loops-forever": loops_forever, "panics": panics}
    if name in builders:
        builders[name](folder)
    elif name == "fakes-a-pass":
        fakes_a_pass(folder, procfd, checks_dir)
    else:
        escape(folder, name.removeprefix("escape-"), canary, port)
    return folder
