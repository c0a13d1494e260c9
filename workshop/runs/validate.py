"""Lint a content folder: every problem with the file:line to fix, before a learner ever meets it."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from workshop.core.content import LAB_DIR, ContentError, Lab, load_lab


@dataclass
class Problem:
    where: str  # file:line
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class CheckDef:
    """A check as written in a checks/ file, found without importing it."""

    path: Path
    line: int
    name: str
    step: str | None
    title: str = ""

    def info(self, root: Path) -> dict[str, str]:
        """What the runner will report about this check once collected (nodeid, lab, step, name, title)."""
        return {"nodeid": f"{self.path.relative_to(root).as_posix()}::{self.name}", "lab": self.path.parent.name,
                "step": self.step or "", "name": self.name.removeprefix("test_"),
                "title": self.title or self.name.removeprefix("test_").replace("_", " ")}


def find_checks(checks_dir: Path) -> list[CheckDef]:
    found: list[CheckDef] = []
    for path in sorted(checks_dir.glob("test_*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except SyntaxError as exc:
            found.append(CheckDef(path, exc.lineno or 1, "<syntax error>", None))
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
                doc = (ast.get_docstring(node) or "").strip().splitlines()
                found.append(CheckDef(path, node.lineno, node.name, _step_of(node), doc[0] if doc else ""))
    return found


def _step_of(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    for deco in node.decorator_list:
        if isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute) and deco.func.attr == "step":
            if deco.args and isinstance(deco.args[0], ast.Constant) and isinstance(deco.args[0].value, str):
                return deco.args[0].value
    return None


def validate(root: Path) -> list[Problem]:
    problems: list[Problem] = []
    labs_dir = root / "labs"
    if not labs_dir.is_dir():
        return [Problem(str(root), "not a workshop folder: it has no labs/ folder")]
    slugs = sorted(d.name for d in labs_dir.iterdir() if d.is_dir())
    if not slugs:
        problems.append(Problem(str(labs_dir), "there are no labs"))
    ids: dict[str, str] = {}
    for slug in slugs:
        if not LAB_DIR.match(slug):
            problems.append(Problem(str(labs_dir / slug), "a lab folder is named NN-slug, like 01-first-filter"))
            continue
        try:
            lab = load_lab(root, slug)
        except ContentError as exc:
            problems.append(Problem(exc.where, exc.message))
            continue
        if lab.id in ids:
            problems.append(Problem(f"{lab.lab_md}:2", f"lab id {lab.id} is also used by {ids[lab.id]}"))
        ids[lab.id] = slug
        problems += validate_lab(lab)
    return problems


def validate_lab(lab: Lab) -> list[Problem]:
    problems: list[Problem] = []
    md = lab.lab_md
    if not lab.steps:
        problems.append(Problem(f"{md}:1", "the lab has no steps: add '## Title {#step-id}' sections"))
    for folder, what in ((lab.starter_dir, "starter"), (lab.solution_dir, "solution")):
        if not folder.is_dir() or not any(folder.iterdir()):
            problems.append(Problem(str(folder), f"the lab's {what} folder is missing or empty"))
    if not lab.checks_dir.is_dir():
        problems.append(Problem(str(lab.checks_dir), "the lab has no checks folder"))
        return problems
    checks = find_checks(lab.checks_dir)
    step_ids = {s.id for s in lab.steps}
    for c in checks:
        if c.name == "<syntax error>":
            problems.append(Problem(f"{c.path}:{c.line}", "the check file has a syntax error"))
        elif c.step is None:
            problems.append(Problem(f"{c.path}:{c.line}", f"check {c.name} has no @pytest.mark.step(\"...\") marker"))
        elif c.step not in step_ids:
            problems.append(Problem(f"{c.path}:{c.line}", f"check {c.name} names step {c.step!r}, which lab.md does not have (steps: {', '.join(sorted(step_ids))})"))
    checked = {c.step for c in checks}
    for s in lab.steps:
        if s.id not in checked:
            problems.append(Problem(f"{md}:{s.line}", f"step {s.id!r} has no check"))
    for step_id, files in lab.files.items():
        if step_id not in step_ids:
            problems.append(Problem(f"{md}:2", f"front matter files names step {step_id!r}, which lab.md does not have"))
        for f in files:
            if not (lab.starter_dir / f).is_file():
                problems.append(Problem(f"{md}:2", f"front matter files: {f} is not in the starter"))
    return problems
