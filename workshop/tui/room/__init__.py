"""The instructor's screen: a live table of a room of learners (`workshop room DIR --tui`)."""

from __future__ import annotations

from workshop.tui.room.app import RoomApp, run_live_room_app, run_room_app

__all__ = ["RoomApp", "run_live_room_app", "run_room_app"]
