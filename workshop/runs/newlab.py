"""`workshop new-lab NN-name`: the folders of a new lab that continues the chain and passes validate at once.

It writes the lab.md (every front-matter key, each with what it is for), a starter holding only the
lab's own file, a solution (the continued lab's solution plus that file done) and a check that fails
on the starter and passes on the solution. The author then replaces the placeholder step and check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from workshop.core.content import LAB_DIR, ContentError, load_workshop
from workshop.core.errors import UsageError
from workshop.env.services.catalog import GROUPS, SERVICES
from workshop.env.tools import LAB_TOOLS

OWN_FILE = "notes.md"  # the one file the scaffolded step works on
STEP = "first-step"


@dataclass
class NewLab:
    slug: str
    continues: str | None
    written: list[Path] = field(default_factory=list)


def new_lab(root: Path, name: str) -> NewLab:
    """Scaffold lab ``name`` (``NN-slug``) in the content folder ``root``, continuing the last lab before it."""
    if not LAB_DIR.match(name):
        raise UsageError(f"{name!r} is not a lab folder name", "name it NN-slug: two digits, a dash, lower-case words "
                                                                "joined by dashes, like 11-rate-limits")
    try:
        workshop = load_workshop(root)
    except ContentError as exc:
        raise UsageError(str(exc), "run it in a workshop folder (with labs/, solutions/, checks/) or pass --content DIR")
    lab_id = name[:2]
    taken = [lab.slug for lab in workshop.labs if lab.id == lab_id]
    for folder in (root / "labs" / name, root / "solutions" / name, root / "checks" / name):
        if folder.exists():
            taken.append(str(folder))
    if taken:
        raise UsageError(f"lab {lab_id} is already there: {', '.join(taken)}", "choose another number, or remove those folders")
    before = [lab for lab in workshop.labs if lab.id < lab_id]
    previous = before[-1] if before else None
    made = NewLab(slug=name, continues=previous.slug if previous else None)
    lab_dir, solution, checks = root / "labs" / name, root / "solutions" / name, root / "checks" / name
    files = {
        lab_dir / "lab.md": _lab_md(lab_id, made.continues),
        lab_dir / "starter" / OWN_FILE: "# Notes\n\nTODO: write here what you saw.\n",
        solution / OWN_FILE: "# Notes\n\nThe filter answered, and the check saw it.\n",
        checks / f"test_{STEP.replace('-', '_')}.py": CHECK,
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        made.written.append(path)
    return made


def _lab_md(lab_id: str, continues: str | None) -> str:
    chain = (f"continues: {continues}  # the lab whose solution this one starts from: starter/ holds only the files this lab\n"
             "                # adds or changes (its TODO versions, its new files); the learner gets that solution plus them\n"
             if continues else
             "# continues: NN-name  # none: this is the first lab, so starter/ holds the whole starter\n")
    return f"""---
# What the workshop reads of this lab (README, "How to write a lab", says more of each key).
id: "{lab_id}"  # two digits, the start of the folder's name: the lab's place in the order
title: A new lab  # shown in the lab list and above the lab's text
summary: What the learner builds here, and what they see it do.  # one sentence, shown under the title
minutes: 30  # about how long it takes, shown beside the title
{chain}tools: []  # what the learner needs installed; `workshop doctor` says which labs need a missing one.
                # names: {", ".join(LAB_TOOLS)}
services: []  # what the workshop starts before the checks run (and stops after selftest and grading).
                # names: {", ".join([*SERVICES, *GROUPS])}
files:  # step id -> the files `workshop reset {lab_id}/STEP` puts back from the starter (and grading points at)
  {STEP}: [{OWN_FILE}]
runs: []  # what the learner runs before checking (a build, a program they keep running); selftest and grading
          # run them too, in order: - command: [go, build, ...]  env: {{GOOS: wasip1}}  ready: http://127.0.0.1:PORT/  timeout: 60
formerly: []  # folder names this lab had before a renumbering: a learner's folder and progress under them carry over
logins: {{}}  # service -> the login it wants, which this lab gives the learner: {{private-registry: {{user: U, password: P}}}};
            # the workshop sets the service up with it
---

# A new lab

What this lab teaches, in two or three sentences.

## First step {{#{STEP}}}

Write in `{OWN_FILE}` what you saw.

### Hints

- Open `{OWN_FILE}` in your lab folder.
- Replace the TODO line with one sentence.
"""


CHECK = '''"""Step first-step (a placeholder: a check judges what the learner's work does, a build, a request,
Envoy's or the mesh's own answer, never a file's name or shape)."""

import pytest

from workshop.checking import fail


@pytest.mark.step("first-step")
def test_notes_say_what_was_seen(workspace):
    """notes.md says what the learner saw"""
    notes = workspace / "notes.md"
    text = notes.read_text() if notes.exists() else ""
    if not text.strip() or "TODO" in text:
        fail("notes.md still holds the starter's TODO", expected="a sentence about what you saw",
             seen=text.strip()[:200] or "no notes.md", hint="replace the TODO line in notes.md")
'''
