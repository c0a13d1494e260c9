"""The preparation routes: where the room is (/lab), the Go module proxy (/go/), the programs and their
signed manifest (/programs/), and the wheels as a pip index (/simple/)."""

from __future__ import annotations

from aiohttp import web

from workshop.room.home import RoomHome


def add_routes(app: web.Application, home: RoomHome) -> None:
    async def lab(request: web.Request) -> web.Response:
        return web.json_response({"lab": home.current_lab()})

    app.router.add_get("/lab", lab)
