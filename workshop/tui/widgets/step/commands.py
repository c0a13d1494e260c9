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


def label_plain_fences(markdown: str) -> str:
    """Give fenced blocks without a language the language ``text``.

    Textual's Markdown guesses a language for them by asking every Pygments lexer, which takes half
    a second the first time (the app froze on the first such block) and colours plain output oddly.
    """
    from markdown_it import MarkdownIt

    lines = markdown.splitlines()
    changed = False
    for token in MarkdownIt("commonmark").parse(markdown):
        if token.type == "fence" and not token.info.strip() and token.map:
            lines[token.map[0]] = lines[token.map[0]].rstrip() + "text"
            changed = True
    return "\n".join(lines) if changed else markdown
