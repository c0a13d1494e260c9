"""The workshop's content: labs, their steps and hints, read from a content folder.

A content folder holds ``labs/<NN-slug>/lab.md`` (+ ``starter/``, only the lab's own files: see
core/chain.py), ``solutions/<NN-slug>/`` and ``checks/<NN-slug>/``. A lab.md has YAML front matter and one ``## Title {#step-id}`` section per
step; a ``### Hints`` list inside a step gives its hints, revealed one at a time.
"""

from __future__ import annotations

import hashlib
import pickle
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from workshop import __version__
from workshop.core.atomic import write_atomic
from workshop.core.errors import WorkshopError
from workshop.core.locations import cache_dir

STEP_ID = re.compile(r"\s*\{#([a-z0-9][a-z0-9-]*)\}\s*$")
LAB_DIR = re.compile(r"^(\d\d)-[a-z0-9-]+$")


class ContentError(WorkshopError):
    """Content that cannot be read; ``where`` is ``file:line``."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}", "fix that line, then `workshop validate` checks the rest")
        self.where = where
        self.message = message


@dataclass
class Run:
    """What the learner does before checking: a command run to completion (a build), or, with ``ready``,
    a program they keep running while the checks look at it (their own Envoy).

    Checks never do these for a learner; selftest and grading do them in their copy, as the learner would.
    """

    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready: str | None = None  # a URL on 127.0.0.1 that answers 200 once it is up
    timeout: float = 60


@dataclass
class Step:
    """One section of a lab, checked by the checks marked with its id."""

    id: str
    title: str
    body: str
    hints: list[str]
    line: int  # 1-based line of the step's heading in lab.md


@dataclass
class Lab:
    """One lab: its text, its starter, its solution and its checks."""

    id: str
    slug: str
    title: str
    summary: str
    minutes: int
    tools: list[str]
    services: list[str]
    files: dict[str, list[str]]
    runs: list[Run]
    intro: str
    steps: list[Step]
    root: Path  # the content folder
    lab_md: Path = field(repr=False)
    formerly: list[str] = field(default_factory=list)  # folder names it had before a renumbering
    continues: str | None = None  # the lab whose solution this one's starter builds on (core/chain.py)
    logins: dict[str, tuple[str, str]] = field(default_factory=dict)  # service -> (user, password) it wants

    @property
    def starter_dir(self) -> Path:
        """Only the lab's own starter files; the whole starter is ``chain.starter_files(lab)``."""
        return self.root / "labs" / self.slug / "starter"

    @property
    def solution_dir(self) -> Path:
        return self.root / "solutions" / self.slug

    @property
    def checks_dir(self) -> Path:
        return self.root / "checks" / self.slug

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        known = ", ".join(s.id for s in self.steps)
        raise LookupError(f"lab {self.id} has no step {step_id!r}; its steps are: {known}")


@dataclass
class Workshop:
    """All labs of one content folder, in order."""

    root: Path
    labs: list[Lab]
    problems: list[str] = field(default_factory=list)  # "file:line: message" of labs that could not be read

    def lab(self, ref: str) -> Lab:
        """Find a lab by ``01``, ``1``, ``01-first-filter`` or ``first-filter``."""
        ref = ref.strip().strip("/")
        for lab in self.labs:
            if ref in (lab.id, lab.slug, lab.slug[3:]) or (ref.isdigit() and int(ref) == int(lab.id)):
                return lab
        known = ", ".join(lab.slug for lab in self.labs) or "none"
        raise LookupError(f"there is no lab {ref!r}; the labs are: {known}")

    def login(self, service: str) -> tuple[str, str] | None:
        """The (user, password) the labs give for ``service`` (front matter ``logins:``), or None when none does;
        two labs that give different ones are a ContentError."""
        found: tuple[str, str] | None = None
        first: Lab | None = None
        for lab in self.labs:
            given = lab.logins.get(service)
            if given is None:
                continue
            if found is not None and first is not None and given != found:
                raise ContentError(f"{lab.lab_md}:{_front_matter_line(lab.lab_md.read_text(encoding='utf-8'), 'logins')}",
                                   f"logins: gives {service} another login than {first.slug} does: give one login in both")
            found, first = given, lab
        return found

    def resolve(self, ref: str) -> tuple[Lab, Step | None]:
        """Resolve ``LAB`` or ``LAB/STEP``."""
        lab_ref, _, step_ref = ref.partition("/")
        lab = self.lab(lab_ref)
        return lab, (lab.step(step_ref) if step_ref else None)


def load_workshop(root: Path) -> Workshop:
    """Read every lab under ``root/labs``; a lab that cannot be read is left out and named in ``problems``.

    The parsed content is cached, keyed on every lab.md's path, size and time: starting the app or a
    check then needs neither YAML, pydantic nor a Markdown parse.
    """
    labs_dir = root / "labs"
    if not labs_dir.is_dir():
        raise ContentError(str(root), "not a workshop folder: it has no labs/ folder")
    slugs = sorted(d.name for d in labs_dir.iterdir() if LAB_DIR.match(d.name))
    cached = _cache_path(root, slugs)
    try:
        workshop = pickle.loads(cached.read_bytes())
        if isinstance(workshop, Workshop):
            return workshop
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError):
        pass
    labs: list[Lab] = []
    problems: list[str] = []
    for slug in slugs:  # one broken lab must not hide the others; `workshop validate` details it
        try:
            labs.append(load_lab(root, slug))
        except ContentError as exc:
            problems.append(str(exc))
    workshop = Workshop(root=root, labs=labs, problems=problems)
    try:
        write_atomic(cached, pickle.dumps(workshop))
    except OSError:
        pass  # a read-only cache only costs speed
    return workshop


def _cache_path(root: Path, slugs: list[str]) -> Path:
    key = [__version__, str(root), ",".join(f.name for f in fields(Lab))]  # a new field: a new parse
    for slug in slugs:
        try:
            st = (root / "labs" / slug / "lab.md").stat()
            key.append(f"{slug}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            key.append(f"{slug}:missing")
    return cache_dir() / "content" / (hashlib.sha256("|".join(key).encode()).hexdigest()[:24] + ".pickle")


def split_front_matter(text: str, where: str) -> tuple[dict, int]:
    """Return the front matter mapping and the 0-based line where the Markdown body starts."""
    import yaml
    from markdown_it import MarkdownIt
    from mdit_py_plugins.front_matter import front_matter_plugin

    tokens = MarkdownIt("commonmark").use(front_matter_plugin).parse(text)
    if not tokens or tokens[0].type != "front_matter" or not tokens[0].map:
        raise ContentError(f"{where}:1", "lab.md must start with YAML front matter between two '---' lines")
    try:
        data = yaml.safe_load(tokens[0].content) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark else 1
        raise ContentError(f"{where}:{line}", f"front matter is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ContentError(f"{where}:2", "front matter must be a YAML mapping")
    return data, tokens[0].map[1]


def load_lab(root: Path, slug: str) -> Lab:
    path = root / "labs" / slug / "lab.md"
    where = str(path)
    if not path.is_file():
        raise ContentError(where, "missing lab.md")
    # Deferred: pydantic and the front matter's model cost ~50 ms to import, and a warm start reads the
    # cached labs (load_workshop) without ever calling this, so the app's first paint does not pay it.
    from pydantic import ValidationError

    from workshop.core.frontmatter import FrontMatter

    text = path.read_text(encoding="utf-8")
    data, body_start = split_front_matter(text, where)
    try:
        meta = FrontMatter.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        line = _front_matter_line(text, str(err["loc"][0]) if err["loc"] else "")
        raise ContentError(f"{where}:{line}", f"front matter {key}: {err['msg']}") from None
    if not slug.startswith(meta.id + "-"):
        raise ContentError(f"{where}:2", f"front matter id {meta.id!r} does not match the folder name {slug!r}")
    intro, steps = parse_steps(text, body_start, where)
    return Lab(
        id=meta.id, slug=slug, title=meta.title, summary=meta.summary, minutes=meta.minutes,
        tools=meta.tools, services=meta.services, files=meta.files, runs=[Run(**r.model_dump()) for r in meta.runs], intro=intro, steps=steps, root=root, lab_md=path,
        formerly=meta.formerly, continues=meta.continues,
        logins={name: (login.user, login.password) for name, login in meta.logins.items()},
    )


def _front_matter_line(text: str, key: str) -> int:
    for i, line in enumerate(text.splitlines()):
        if key and line.startswith(f"{key}:"):
            return i + 1
    return 2


def parse_steps(text: str, body_start: int, where: str) -> tuple[str, list[Step]]:
    """Split the Markdown body into the intro and one Step per ``##`` heading."""
    from markdown_it import MarkdownIt

    lines = text.splitlines()
    body = "\n".join(lines[body_start:])
    tokens = MarkdownIt("commonmark").parse(body)
    heads = [
        (t.map[0] + body_start, tokens[i + 1].content)
        for i, t in enumerate(tokens)
        if t.type == "heading_open" and t.tag == "h2" and t.map
    ]
    intro_end = heads[0][0] if heads else len(lines)
    intro = "\n".join(lines[body_start:intro_end]).strip()
    steps: list[Step] = []
    seen: set[str] = set()
    for n, (line, heading) in enumerate(heads):
        m = STEP_ID.search(heading)
        if not m:
            raise ContentError(f"{where}:{line + 1}", f"step heading {heading!r} needs a stable id, like '## {heading} {{#my-step}}'")
        step_id = m.group(1)
        if step_id in seen:
            raise ContentError(f"{where}:{line + 1}", f"step id {step_id!r} is used twice")
        seen.add(step_id)
        end = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
        section = lines[line + 1 : end]
        body_text, hints = _split_hints(section)
        steps.append(Step(id=step_id, title=heading[: m.start()].strip(), body=body_text, hints=hints, line=line + 1))
    return intro, steps


def _split_hints(section: list[str]) -> tuple[str, list[str]]:
    """Take the ``### Hints`` list out of a step's lines; each top-level item is one hint."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse("\n".join(section))
    start = None
    for i, t in enumerate(tokens):
        if t.type == "heading_open" and t.tag == "h3" and tokens[i + 1].content.strip().lower() == "hints":
            start = i
            break
    if start is None or not tokens[start].map:
        return "\n".join(section).strip(), []
    h_line = tokens[start].map[0]
    stop = len(section)
    hints: list[str] = []
    level = 0
    for t in tokens[start + 3 :]:
        if t.type == "heading_open" and t.map:
            stop = t.map[0]
            break
        if t.type in ("bullet_list_open", "ordered_list_open"):
            level += 1
        elif t.type in ("bullet_list_close", "ordered_list_close"):
            level -= 1
        elif t.type == "list_item_open" and level == 1 and t.map:
            item = section[t.map[0] : t.map[1]]
            first = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", item[0])
            rest = [ln[2:] if ln.startswith("  ") else ln.lstrip() for ln in item[1:]]
            hints.append("\n".join([first, *rest]).strip())
    body = section[:h_line] + section[stop:]
    return "\n".join(body).strip(), hints
