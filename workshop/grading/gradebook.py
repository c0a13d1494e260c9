"""Grades as people and machines read them: a terminal table, JSON, CSV, Markdown for a GitHub Actions
step summary, GitHub annotations, and JUnit XML (one file per submission).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

from workshop.core import reports
from workshop.core.content import Lab
from workshop.core.texttable import text_table
from workshop.grading.grade import SubmissionGrade
from workshop.grading.submission import FOLDER, GIT


def status(grade: SubmissionGrade) -> str:
    if grade.broken:
        return "not graded"
    if grade.problem:
        return "unreadable"
    return "graded"


def note(grade: SubmissionGrade) -> str:
    parts = [grade.broken or grade.problem]
    if grade.forged_lines:
        parts.append(f"{grade.forged_lines} forged result line(s) ignored")
    return "; ".join(p for p in parts if p)


def table(grades: list[SubmissionGrade], labs: list[Lab]) -> str:
    """The summary table for the terminal: one row per learner, points per lab, total, percent."""
    head = ["learner", *[f"lab {lab.id}" for lab in labs], "total", "%", "note"]
    rows = [head]
    for g in grades:
        per_lab = {lg.lab: lg for lg in g.labs}
        cells = [f"{per_lab[lab.slug].points}/{per_lab[lab.slug].max_points}" if lab.slug in per_lab else "-" for lab in labs]
        total = "-" if g.broken else f"{g.points}/{g.max_points}"
        rows.append([g.name, *cells, total, "-" if g.broken else f"{g.percent:g}", note(g)[:70]])
    return text_table(rows)


def to_dict(grade: SubmissionGrade) -> dict:
    return {
        "learner": grade.name, "source": grade.submission.source, "kind": grade.submission.kind,
        "status": status(grade), "points": grade.points, "max_points": grade.max_points, "percent": grade.percent,
        "problem": grade.problem, "broken": grade.broken, "forged_lines": grade.forged_lines, "seconds": grade.seconds,
        "labs": [{"lab": lg.lab, "points": lg.points, "max_points": lg.max_points, "submitted": lg.submitted,
                  "problems": lg.problems, "summary": reports.summary(lg.verdicts),
                  "verdicts": [v.to_dict() for v in lg.verdicts]} for lg in grade.labs],
    }


def to_json(grades: list[SubmissionGrade], **extra: object) -> str:
    return json.dumps({**extra, "submissions": [to_dict(g) for g in grades]}, indent=2)


def to_csv(grades: list[SubmissionGrade], labs: list[Lab]) -> str:
    """One row per learner, for a gradebook: points per lab, total, maximum, percent, status."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["learner", "source", *[lab.slug for lab in labs], "points", "max_points", "percent", "status", "note"])
    for g in grades:
        per_lab = {lg.lab: lg.points for lg in g.labs}
        writer.writerow([g.name, g.submission.source, *[per_lab.get(lab.slug, "") for lab in labs], g.points,
                         g.max_points, g.percent, status(g), note(g)])
    return out.getvalue()


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(grades: list[SubmissionGrade], labs: list[Lab]) -> str:
    """A GitHub Actions step summary: the table, then what failed, per learner, folded."""
    lines = ["## Workshop grades", "", "| learner | " + " | ".join(f"lab {lab.id}" for lab in labs) + " | total | % |",
             "| --- | " + " | ".join("---:" for _ in labs) + " | ---: | ---: |"]
    for g in grades:
        per_lab = {lg.lab: lg for lg in g.labs}
        cells = [f"{per_lab[lab.slug].points}/{per_lab[lab.slug].max_points}" if lab.slug in per_lab else "-" for lab in labs]
        mark = "✅" if g.max_points and g.points == g.max_points else ("⚠️" if g.broken or g.problem else "❌")
        lines.append(f"| {mark} {_md(g.name)} | " + " | ".join(cells) + f" | {g.points}/{g.max_points} | {g.percent:g} |")
    for g in grades:
        failing = [v for v in g.verdicts if not v.passed]
        if not failing and not note(g):
            continue
        lines += ["", f"<details><summary>{g.name}: {len(failing)} check(s) not passed</summary>", ""]
        if note(g):
            lines.append(f"> {_md(note(g))}\n")
        for v in failing:
            lines.append(f"- **{v.lab} / {v.step} / {v.name}** ({v.status}, {v.points} pt): {_md(v.message)}")
            if v.hint:
                lines.append(f"  - try: {_md(v.hint)}")
        lines.append("\n</details>")
    return "\n".join(lines) + "\n"


def _escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def github_annotations(grades: list[SubmissionGrade], labs: list[Lab], cwd: Path | None = None) -> list[str]:
    """``::error file=...::`` lines: one per failing check, on the file the step asks the learner to edit."""
    here = (cwd or Path.cwd()).resolve()
    files = {lab.slug: lab.files for lab in labs}
    out = []
    for g in grades:
        if g.broken:
            out.append(f"::error title={_escape('grading failed: ' + g.name, True)}::{_escape(g.broken)}")
            continue
        if g.problem:
            out.append(f"::error title={_escape('unreadable submission: ' + g.name, True)}::{_escape(g.problem)}")
        base = Path(g.submission.source)
        for v in g.verdicts:
            if v.passed:
                continue
            names = files.get(v.lab, {}).get(v.step, [])
            where = ""
            if names and g.submission.kind in (FOLDER, GIT) and base.is_dir():
                path = base.resolve() / v.lab / names[0]
                try:
                    where = f"file={_escape(str(path.relative_to(here)), True)},"
                except ValueError:
                    where = f"file={_escape(str(path), True)},"
            title = _escape(f"{g.name}: {v.lab}/{v.step}/{v.name} {v.status}", True)
            out.append(f"::error {where}title={title}::{_escape(v.explain() or v.status)}")
    return out


def junit_files(grades: list[SubmissionGrade], folder: Path) -> list[Path]:
    """JUnit XML, one file per submission, one test suite per lab."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for g in grades:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", g.name) or "submission"
        suites = [(f"{g.name}.{lg.lab}", lg.verdicts) for lg in g.labs]
        path = folder / f"{safe}.xml"
        path.write_text(reports.junit_xml(suites, name=f"workshop grade {g.name}"), encoding="utf-8")
        written.append(path)
    return written


def write(path: str, text: str) -> None:
    """Write a report; ``-`` is stdout; $GITHUB_STEP_SUMMARY is appended to, as GitHub expects."""
    if path == "-":
        print(text, end="" if text.endswith("\n") else "\n")
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a" if os.environ.get("GITHUB_STEP_SUMMARY") == path else "w", encoding="utf-8") as f:
        f.write(text)
