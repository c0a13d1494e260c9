"""The join screen: the same join as the CLI, from the app, with its progress and its errors. The room
is the instructor's stocked folder served by the room's own app on loopback."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest
from aiohttp import web
from textual.widgets import Input, ProgressBar, Static

from tests.room.conftest import Room
from workshop.room.home import RoomHome
from workshop.room.server import build_app
from workshop.runs.session import Session
from workshop.tui.app import WorkshopApp
from workshop.tui.screens.join import JoinScreen
from workshop.tui.screens.main import MainScreen

pytestmark = pytest.mark.slow


def status(app: WorkshopApp) -> str:
    return str(app.screen.query_one("#status", Static).content)


async def _drive(session: Session, url: str, token: str, deadline: float) -> tuple[str, float, str]:
    app = WorkshopApp(session)
    async with app.run_test(size=(110, 36)) as pilot:
        app.action_join_room()
        await pilot.pause()
        assert isinstance(app.screen, JoinScreen)
        for field, value in (("url", url), ("token", token), ("name", "hedy")):
            app.screen.query_one(f"#{field}", Input).value = value
        await pilot.click("#join")
        seen = 0.0
        end = time.monotonic() + deadline
        screen = app.screen
        assert isinstance(screen, JoinScreen)
        while screen.joining and time.monotonic() < end:
            seen = max(seen, screen.query_one("#bar", ProgressBar).percentage or 0.0)
            await pilot.pause(0.2)
        said = status(app)
        await pilot.press("escape")
        await pilot.pause()
        lab = app.screen.lab.slug if isinstance(app.screen, MainScreen) and app.screen.lab else ""
        return said, seen, lab


def test_join_from_the_app(room: Room, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKSHOP_TOOLS_DIR", str(tmp_path / "tools"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("GOMODCACHE", "GOCACHE", "GOPATH", "GOFLAGS"):
        monkeypatch.delenv(name, raising=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"

    async def main() -> tuple[tuple[str, float, str], tuple[str, float, str]]:
        runner = web.AppRunner(build_app(RoomHome(room.home)))
        await runner.setup()
        await web.SockSite(runner, sock).start()
        try:
            session = Session.open(None, None)
            wrong = await _drive(session, url, "not-the-token", 60)
            right = await _drive(session, url, room.token, 900)
            return wrong, right
        finally:
            await runner.cleanup()

    wrong, right = asyncio.run(main())
    assert "refused the token" in wrong[0]
    said, seen, lab = right
    assert said.startswith("Ready in") and "you are on" in said, said
    assert seen > 0  # the bar moved while the programs came
    assert lab  # back on the main screen, at the room's lab
    assert (tmp_path / "tools" / "bin" / "kube-apiserver").is_file()
