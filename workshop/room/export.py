"""After the workshop: the room's results in the gradebook formats grading writes (CSV, JSON, Markdown).

Each learner is a submission of kind "room"; each step of a lab they reached is one verdict worth one
point: passed when their last check of it passed, failed (with the last message) when it did not,
failed as "not checked in the room" when they never checked it.
"""

from __future__ import annotations

from workshop.core.content import Lab, Workshop
from workshop.core.progress import PASSED, Progress
from workshop.core.verdict import FAILED, Verdict
from workshop.core.verdict import PASSED as CHECK_PASSED
from workshop.grading.grade import LabGrade, SubmissionGrade
from workshop.grading.submission import Submission
from workshop.room.view import Fold

ROOM = "room"


def labs_reached(workshop: Workshop, fold: Fold) -> list[Lab]:
    touched = {lab for x in fold.learners.values() for lab in x.progress.labs}
    return [lab for lab in workshop.labs if lab.slug in touched]


def grades(workshop: Workshop, fold: Fold, url: str = "") -> list[SubmissionGrade]:
    labs = labs_reached(workshop, fold)
    found = []
    for x in sorted(fold.learners.values(), key=lambda x: x.seat.name.lower()):
        grade = SubmissionGrade(Submission(x.seat.name, url or ROOM, ROOM))
        for lab in labs:
            if lab.slug in x.progress.labs:
                grade.labs.append(LabGrade(lab.slug, [verdict(x.progress, lab, step.id) for step in lab.steps]))
        found.append(grade)
    return found


def verdict(progress: Progress, lab: Lab, step: str) -> Verdict:
    sp = progress.labs.get(lab.slug, {}).get(step)
    if sp is None:
        return Verdict(lab.slug, step, step, f"{lab.slug}/{step}", FAILED, message="not checked in the room")
    ok = sp.status == PASSED
    return Verdict(lab.slug, step, step, f"{lab.slug}/{step}", CHECK_PASSED if ok else FAILED,
                   message="" if ok else sp.message, note=f"{sp.attempts} tries, {sp.hints_shown} hints")
