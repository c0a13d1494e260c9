"""Find the shell commands in a step's Markdown, so the step view can give them Copy and Run buttons."""

from __future__ import annotations

from dataclasses import dataclass

SHELLS = {"sh", "bash", "shell", "console"}


@dataclass
class Part:
    """A piece of a step's text: Markdown prose, or a shell command the learner can run."""

    kind: str  # "markdown" or "command"
    text: str


def split_commands(markdown: str) -> list[Part]:
    """Split Markdown into prose and fenced ``sh`` blocks, in order."""
    from markdown_it import MarkdownIt

    lines = markdown.splitlines()
    parts: list[Part] = []
    at = 0
    for token in MarkdownIt("commonmark").parse(markdown):
        lang = token.info.strip().split(" ")[0].lower() if token.type == "fence" else ""
        if lang not in SHELLS or not token.map:
            continue
        start, end = token.map
        prose = "\n".join(lines[at:start]).strip()
        if prose:
            parts.append(Part("markdown", prose))
        parts.append(Part("command", token.content.rstrip("\n")))
        at = end
    rest = "\n".join(lines[at:]).strip()
    if rest:
        parts.append(Part("markdown", rest))
    return parts
