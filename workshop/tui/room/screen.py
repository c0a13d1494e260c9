"""The room screen: a live table of the learners, stuck longest first, and the selected one's details."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker, WorkerState

from workshop.core.errors import friendly
from workshop.room import roster
from workshop.tui.room.details import LearnerDetails
from workshop.tui.room.reading import SORT_ORDER, SORTS, FolderReading, Learner, LiveReading

COLUMNS = (("learner", "learner"), ("lab", "lab"), ("step", "step"), ("status", "status"),
           ("stuck", "stuck for"), ("message", "last failing message"))
CAPS = {"learner": 16, "step": 14}  # longer names are cut in the table; the details show them whole


def _cut(value: str, width: int) -> str:
    return value if len(value) <= width else value[: max(1, width - 1)] + "…"


def _cells(learner: Learner) -> dict[str, str]:
    seat = learner.seat
    return {
        "learner": _cut(seat.learner, CAPS["learner"]), "lab": seat.lab[:2] or "-",
        "step": _cut(seat.step or "-", CAPS["step"]), "status": seat.status,
        "stuck": roster.duration(seat.stuck_seconds), "message": " ".join(seat.message.split()),
    }


class RoomScreen(Screen[None]):
    """Who is on which lab and step, who has been stuck longest, and why."""

    CSS_PATH = "room.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "sort", "Sort"),
        Binding("r", "reload", "Refresh"),
        Binding("d", "details", "Details"),
        Binding("escape", "table", "Table", show=False),
    ]

    def __init__(self, reading: FolderReading | LiveReading, interval: float = 2.0,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.reading, self.interval, self.clock = reading, max(0.2, interval), clock
        self.sort_by = "stuck"
        self.learners: list[Learner] = []
        self.problem = ""  # why the last read failed, shown until one succeeds
        self._reading = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="summary")
        yield Static(id="groups")
        yield DataTable(id="seats", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="details-box"):
            yield LearnerDetails(id="details")
        yield Footer()

    def on_mount(self) -> None:
        self.app.sub_title = self.reading.name
        table = self.query_one(DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        self._summary()
        self.action_reload()
        self.set_interval(self.interval, self.action_reload)

    # Reading: in a thread, one at a time (a slow share must not pile up reads or freeze the screen).

    def action_reload(self) -> None:
        if not self._reading:
            self._reading = True
            self._read_room()

    @work(thread=True, exclusive=True, group="room", exit_on_error=False)
    def _read_room(self) -> list[Learner]:
        return self.reading.read(self.clock())

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        """The one place the reads come back: rows on success, one sentence on failure."""
        if event.worker.group != "room" or not event.worker.is_finished:
            return
        self._reading = False
        if event.state == WorkerState.SUCCESS:
            self.problem = ""
            self.learners = sorted(event.worker.result or [], key=SORTS[self.sort_by])
            self._fill()
        elif event.state == WorkerState.ERROR and event.worker.error is not None:
            self.problem = friendly(event.worker.error)
        self._summary()

    # Showing.

    def _summary(self) -> None:
        stuck = sum(1 for x in self.learners if x.seat.stuck_seconds > 0)
        line = (f"{len(self.learners)} learner{'' if len(self.learners) == 1 else 's'}, {stuck} stuck"
                f" · sorted by {self.sort_by} · every {self.interval:g} s")
        if self.problem:
            line = f"cannot read the room: {self.problem}"
        elif not self.learners and not self._reading:
            line = f"{self.reading.empty} · looking every {self.interval:g} s"
        self.query_one("#summary", Static).update(Text(line))
        groups = self.query_one("#groups", Static)
        groups.display = bool(self.reading.notes)
        groups.update(Text("\n".join(self.reading.notes)))

    def _fill(self) -> None:
        """Rows in place when the same learners are in the same order (keeps the scroll); else rebuilt."""
        table = self.query_one(DataTable)
        rows = [_cells(x) for x in self.learners]
        message_width = self._message_width(rows)
        for cells in rows:
            cells["message"] = _cut(cells["message"], message_width)
        keys = [x.key for x in self.learners]
        if keys == [row.value for row in table.rows]:
            for key, cells in zip(keys, rows):
                for column, value in cells.items():
                    table.update_cell(key, column, Text(value))
        else:
            chosen = self._chosen_key()
            table.clear()
            for key, cells in zip(keys, rows):
                table.add_row(*(Text(cells[c]) for c, _ in COLUMNS), key=key)
            if chosen in keys:
                table.move_cursor(row=keys.index(chosen), animate=False)
        self._show_details()

    def _message_width(self, rows: list[dict[str, str]]) -> int:
        """What is left of the screen for the message (each column has 1 cell of padding each side)."""
        used = 0
        for key, label in COLUMNS[:-1]:
            used += max([len(label)] + [len(r[key]) for r in rows]) + 2
        return max(20, self.size.width - used - 2 - 2)  # the last column's padding, a vertical scrollbar

    def _chosen_key(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def _show_details(self) -> None:
        key = self._chosen_key()
        self.query_one(LearnerDetails).show(next((x for x in self.learners if x.key == key), None))

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._show_details()

    @on(DataTable.RowSelected)
    def _selected(self) -> None:
        self.action_details()

    def on_resize(self) -> None:
        if self.learners:
            self._fill()

    # Keys.

    def action_sort(self) -> None:
        """Stuck longest first, then by name, then by lab; the cursor stays on the same learner."""
        self.sort_by = SORT_ORDER[(SORT_ORDER.index(self.sort_by) + 1) % len(SORT_ORDER)]
        self.learners.sort(key=SORTS[self.sort_by])
        self._fill()
        self._summary()

    def action_details(self) -> None:
        """Into the details, to scroll a long message; Escape goes back to the table."""
        self.query_one("#details-box").focus()

    def action_table(self) -> None:
        self.query_one(DataTable).focus()
