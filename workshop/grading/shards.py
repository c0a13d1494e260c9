"""Grading past one machine: a class split into shards (a CI matrix grades one on each runner), and
their gradebooks merged into the one a single run would have written.

A shard ``I/N`` takes the submissions at positions I-1, I-1+N, I-1+2N... of the list every runner is
given (the same list: the split depends on nothing else, so it is the same on every runner, and the
shards differ in size by one at most). Each shard's JSON gradebook says which part it is and where its
submissions stand in the whole list, so merging puts them back in that order and refuses a class with
a part missing or given twice.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workshop.core.errors import WorkshopError
from workshop.core.verdict import Verdict
from workshop.grading.grade import LabGrade, SubmissionGrade
from workshop.grading.submission import Submission

SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class ShardError(WorkshopError):
    """A shard given wrongly, or gradebooks that do not make one class; the message says what to pass."""


@dataclass(frozen=True)
class Shard:
    part: int  # 1-based
    parts: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"2/4"`` -> Shard(2, 4); anything else is one sentence with the fix."""
        m = SHARD.match(text or "")
        if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
            raise ShardError(f"--shard {text} is not a part of the class: give I/N with 1 <= I <= N, "
                             "like --shard 1/4 for the first of four runners")
        return cls(int(m.group(1)), int(m.group(2)))

    def positions(self, total: int) -> list[int]:
        """The positions (0-based, in the whole list) this shard grades."""
        return list(range(self.part - 1, total, self.parts))

    def describe(self, total: int) -> dict[str, Any]:
        """What this shard's gradebook carries so that merging can check and order the class."""
        return {"part": self.part, "parts": self.parts, "class_size": total, "positions": self.positions(total)}


def from_dict(data: dict[str, Any]) -> SubmissionGrade:
    """A submission's grade read back from its JSON form (gradebook.to_dict)."""
    sub = Submission(name=data["learner"], source=data.get("source", ""), kind=data.get("kind", ""))
    labs = [LabGrade(lab=lab["lab"], verdicts=[Verdict.from_dict(v) for v in lab.get("verdicts", [])],
                     problems=list(lab.get("problems", [])), submitted=bool(lab.get("submitted", True)))
            for lab in data.get("labs", [])]
    return SubmissionGrade(submission=sub, labs=labs, problem=data.get("problem", ""), broken=data.get("broken", ""),
                           forged_lines=int(data.get("forged_lines", 0)), seconds=float(data.get("seconds", 0.0)))


def read(path: Path) -> dict[str, Any]:
    """One gradebook written by `workshop grade --json`."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ShardError(f"{path} cannot be read ({exc.strerror or exc}): pass the JSON file `workshop grade --json` wrote") from None
    except ValueError:
        raise ShardError(f"{path} is not JSON: pass the file `workshop grade --json` wrote") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("submissions"), list):
        raise ShardError(f"{path} is not a gradebook (no submissions in it): pass the file `workshop grade --json` wrote")
    return doc


def merge(docs: list[tuple[str, dict[str, Any]]]) -> tuple[dict[str, Any], list[SubmissionGrade]]:
    """The gradebooks of a class's shards (name, document) as one: its header (sandbox, labs) and its grades.

    Sharded gradebooks are put back in the class's order and must make the whole class, each part once;
    gradebooks without shards are taken in the order given. Raises ShardError when they do not fit.
    """
    if not docs:
        raise ShardError("no gradebooks to merge: pass each shard's `workshop grade --json` file")
    head = {k: v for k, v in docs[0][1].items() if k not in ("submissions", "shard")}
    for name, doc in docs[1:]:
        other = {k: v for k, v in doc.items() if k not in ("submissions", "shard")}
        if other != head:
            differ = ", ".join(sorted(k for k in set(head) | set(other) if head.get(k) != other.get(k)))
            raise ShardError(f"{name} was graded differently from {docs[0][0]} ({differ}): grade every shard with "
                             "the same --labs and --sandbox")
    sharded = [(name, doc) for name, doc in docs if doc.get("shard")]
    if sharded and len(sharded) != len(docs):
        raise ShardError("some gradebooks are shards of a class and some are not: merge the shards of one class")
    placed: list[tuple[int, dict[str, Any]]] = []
    if sharded:
        placed = _place(sharded)
    else:
        placed = [(n, sub) for n, sub in enumerate(s for _, doc in docs for s in doc["submissions"])]
    placed.sort(key=lambda pair: pair[0])
    grades = [from_dict(sub) for _, sub in placed]
    seen: set[str] = set()
    for g in grades:
        if g.name in seen:
            raise ShardError(f"{g.name} is in two of the gradebooks: merge each learner's grade once")
        seen.add(g.name)
    return head, grades


def _place(sharded: list[tuple[str, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    first = sharded[0][1]["shard"]
    parts, size = first.get("parts"), first.get("class_size")
    taken: dict[int, str] = {}
    placed = []
    for name, doc in sharded:
        shard = doc["shard"]
        if (shard.get("parts"), shard.get("class_size")) != (parts, size):
            raise ShardError(f"{name} is part of another split ({shard.get('part')}/{shard.get('parts')} of "
                             f"{shard.get('class_size')} submissions, not of {size}): give every runner the same "
                             "submissions and the same N")
        part = shard.get("part")
        if part in taken:
            raise ShardError(f"{name} and {taken[part]} are both part {part}/{parts}: pass each shard once")
        taken[part] = name
        positions, subs = shard.get("positions") or [], doc["submissions"]
        if len(positions) != len(subs):
            raise ShardError(f"{name} does not list where its submissions stand: pass the file `workshop grade --json` wrote")
        placed += list(zip(positions, subs, strict=True))
    missing = [str(p) for p in range(1, int(parts or 0) + 1) if p not in taken]
    if missing:
        raise ShardError(f"part(s) {', '.join(missing)} of {parts} are missing: pass every shard's gradebook")
    if sorted(p for p, _ in placed) != list(range(int(size or 0))):
        raise ShardError(f"the shards do not cover the class of {size} submissions once each: grade each with the "
                         "same submissions and --shard I/N")
    return placed
