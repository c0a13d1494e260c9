"""Lint a content folder: every problem with the file:line to fix, before a learner ever meets it.

The checks are known as pytest collects them (the one way a check is known), not by reading their source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from workshop.core import chain
from workshop.core.content import LAB_DIR, ContentError, Lab, Workshop, load_lab
from workshop.env.services.catalog import GROUPS, SERVICES
from workshop.env.tools import LAB_TOOLS
from workshop.runs.checks import collect


@dataclass
class Problem:
    where: str  # file:line
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def validate(root: Path) -> list[Problem]:
    problems: list[Problem] = []
    labs_dir = root / "labs"
    if not labs_dir.is_dir():
        return [Problem(str(root), "not a workshop folder: it has no labs/ folder")]
    slugs = sorted(d.name for d in labs_dir.iterdir() if d.is_dir())
    if not slugs:
        problems.append(Problem(str(labs_dir), "there are no labs"))
    ids: dict[str, str] = {}
    loaded: list[Lab] = []
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
        loaded.append(lab)
        problems += validate_lab(lab)
    for service in sorted({s for lab in loaded for s in lab.logins}):  # one login per service, whoever gives it
        try:
            Workshop(root=root, labs=loaded).login(service)
        except ContentError as exc:
            problems.append(Problem(exc.where, exc.message))
    return problems


def validate_lab(lab: Lab) -> list[Problem]:
    problems: list[Problem] = []
    md = lab.lab_md
    if not lab.steps:
        problems.append(Problem(f"{md}:1", "the lab has no steps: add '## Title {#step-id}' sections"))
    if not lab.solution_dir.is_dir() or not any(lab.solution_dir.iterdir()):
        problems.append(Problem(str(lab.solution_dir), "the lab's solution folder is missing or empty"))
    problems += validate_chain(lab)
    problems += _names(lab)
    if not lab.checks_dir.is_dir():
        problems.append(Problem(str(lab.checks_dir), "the lab has no checks folder"))
        return problems
    starter = _starter(lab)
    catalog = collect(lab)
    if catalog.problem:
        problems.append(Problem(_where(catalog.problem, lab), _first_error(catalog.problem)))
        return problems
    checks = catalog.checks
    step_ids = {s.id for s in lab.steps}
    for c in checks:
        where = f"{c.path}:{c.line}"
        if not c.step:
            problems.append(Problem(where, f"check test_{c.name} has no @pytest.mark.step(\"...\") marker"))
        elif c.step not in step_ids:
            problems.append(Problem(where, f"check test_{c.name} names step {c.step!r}, which lab.md does not have "
                                           f"(steps: {', '.join(sorted(step_ids))})"))
    checked = {c.step for c in checks}
    for s in lab.steps:
        if s.id not in checked:
            problems.append(Problem(f"{md}:{s.line}", f"step {s.id!r} has no check"))
    for step_id, files in lab.files.items():
        if step_id not in step_ids:
            problems.append(Problem(f"{md}:2", f"front matter files names step {step_id!r}, which lab.md does not have"))
        for f in files:
            if f not in starter:
                problems.append(Problem(f"{md}:2", f"front matter files: {f} is not in the starter"))
    return problems


def _line(lab: Lab, key: str) -> str:
    """``lab.md:N`` of a front-matter key (line 2 when it is not written)."""
    text = lab.lab_md.read_text(encoding="utf-8").splitlines()
    return f"{lab.lab_md}:{next((i + 1 for i, ln in enumerate(text) if ln.startswith(f'{key}:')), 2)}"


def _names(lab: Lab) -> list[Problem]:
    """tools: are what `workshop doctor` probes; services: (and logins:) what the workshop can start."""
    line = {key: _line(lab, key).rpartition(":")[2] for key in ("tools", "services", "logins")}
    problems = [Problem(f"{lab.lab_md}:{line['tools']}", f"tools: {t!r} is not a tool `workshop doctor` knows "
                                                         f"(choose from {', '.join(LAB_TOOLS)})")
                for t in lab.tools if t not in LAB_TOOLS]
    problems += [Problem(f"{lab.lab_md}:{line['services']}", f"services: {s!r} is not a service the workshop can start "
                                                               f"(choose from {', '.join([*SERVICES, *GROUPS])})")
                 for s in lab.services if s not in SERVICES and s not in GROUPS]
    problems += [Problem(f"{lab.lab_md}:{line['logins']}", f"logins: {s!r} is not a service the workshop can start "
                                                             f"(choose from {', '.join(SERVICES)})")
                 for s in lab.logins if s not in SERVICES]
    return problems


def _starter(lab: Lab) -> dict[str, Path]:
    try:
        return chain.starter_files(lab)
    except ContentError:
        return chain.files_in(lab.starter_dir)  # validate_chain names the broken link


def validate_chain(lab: Lab) -> list[Problem]:
    """The starter is the continued lab's solution plus this lab's own files, and nothing drifted.

    Named by file: an own starter file that only repeats the continued solution's, an own solution file
    that only repeats the starter's (delete either: the chain brings it), and an own solution file that
    changes a file the starter takes unchanged where no step of the lab works on it (a change made in a
    later lab's solution instead of where the file comes from).
    """
    problems: list[Problem] = []
    if lab.continues:
        continued = lab.root / "labs" / lab.continues / "lab.md"
        if not continued.is_file() or lab.continues[:2] >= lab.id:
            problems.append(Problem(_line(lab, "continues"), f"continues: {lab.continues} is not an earlier lab of this workshop "
                                               "(name the folder of the lab whose solution this one starts from)"))
            return problems
        try:
            chain.base_files(lab)
        except ContentError as exc:
            return [Problem(_line(lab, "continues"), exc.message)]
        prev = lab.root / "solutions" / lab.continues
        for rel in chain.repeated_files(lab):
            problems.append(Problem(str(lab.starter_dir / rel), f"the same as {prev / rel}: delete it from the starter, "
                                                                "the chain brings it (`continues: " + lab.continues + "`)"))
    starter = chain.starter_files(lab)
    if not starter:
        problems.append(Problem(str(lab.starter_dir), "the lab's starter is empty: add its files to starter/, or say "
                                                      "which lab's solution it continues (`continues:` in lab.md)"))
        return problems
    solution = chain.solution_files(lab)
    if not solution:
        return problems  # named above
    for rel in chain.repeated_solution_files(lab):
        problems.append(Problem(str(lab.solution_dir / rel), f"the same as the starter's {rel}: delete it from the solution, "
                                                             "the chain brings it (a solution holds only what the lab's work changes)"))
    worked_on = {f for files in lab.files.values() for f in files}
    own = chain.files_in(lab.starter_dir)
    for rel in chain.files_in(lab.solution_dir):
        if rel in starter and rel not in own and rel not in worked_on and solution[rel].read_bytes() != starter[rel].read_bytes():
            problems.append(Problem(str(solution[rel]), f"differs from {starter[rel]}, which the starter takes unchanged and no "
                                                        "step of the lab works on (`files:`): make the change where the "
                                                        "file comes from, or name the file in a step's `files:`"))
    return problems


def _where(said: str, lab: Lab) -> str:
    """The file:line pytest names in what it said (a syntax error, a failing import), else the checks folder."""
    found = re.search(r'File "([^"]+)", line (\d+)', said) or re.search(r"(\S+\.py):(\d+)", said)
    return f"{found.group(1)}:{found.group(2)}" if found else str(lab.checks_dir)


def _first_error(said: str) -> str:
    if "SyntaxError" in said:
        return "the check file has a syntax error"
    lines = [ln.strip() for ln in said.splitlines() if ln.strip().startswith("E ") or "Error" in ln]
    return "the checks cannot be collected: " + (lines[0].removeprefix("E").strip() if lines else said.strip().splitlines()[-1])[:300]


def drop_repeated(root: Path) -> list[Path]:
    """Delete every starter file that only repeats the solution its lab continues, and every solution file
    that only repeats the starter's; returns what went.

    For content whose starters and solutions were written out whole (or merged from before the chain): what
    remains in each starter/ and solutions/<lab>/ is then the lab's own. Each deletion keeps every whole
    starter and solution byte for byte what it was (the chain brings the same file).
    """
    dropped: list[Path] = []
    for slug in sorted(d.name for d in (root / "labs").iterdir() if LAB_DIR.match(d.name)):
        try:
            lab = load_lab(root, slug)
            for folder, repeated in ((lab.starter_dir, chain.repeated_files), (lab.solution_dir, chain.repeated_solution_files)):
                for rel in repeated(lab):
                    (folder / rel).unlink()
                    dropped.append(folder / rel)
        except ContentError:
            continue  # validate names it
    return dropped
