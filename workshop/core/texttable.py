"""Plain-text tables for the terminal: the gradebook and the room print their rows with this."""

from __future__ import annotations


def text_table(rows: list[list[str]], width: int | None = None) -> str:
    """``rows[0]`` is the header. Columns are padded to their widest cell, except the last, which is
    free text; a rule goes under the header, and with ``width`` every line is cut to it."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]

    def line(cells: list[str]) -> str:
        text = "  ".join([*(c.ljust(w) for c, w in zip(cells, widths)), cells[-1]])
        return (text[:width] if width else text).rstrip()

    rule = line(["-" * w for w in widths] + ["-" * max(len(rows[0][-1]), 4)])
    return "\n".join([line(rows[0]), rule, *(line(r) for r in rows[1:])])
