"""The room's live routes: seats (given at join), events (signed by the seat), the instructor's view as
JSON, and the same view as a page for a browser (the projector).

Every route is behind the room token (the server's middleware). A seat is a learner's own: its key
signs their events, so nobody posts as them; the view needs the instructor's view key besides (a file
in the room folder), because every learner knows the room token.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import secrets
from importlib import resources
from pathlib import Path

from aiohttp import web

from workshop.core.atomic import kept_secret
from workshop.core.content import Workshop, load_workshop
from workshop.core.locations import content_root
from workshop.room import signing
from workshop.room.events import BODY_LIMIT, NAME, Refused, parse_batch
from workshop.room.home import RoomHome
from workshop.room.store import RoomStore
from workshop.room.view import Fold, build

STATE = web.AppKey("room_live", object)
VIEW_HEADER = "X-Workshop-View"
LONG_POLL = 15.0  # seconds a view request with ?after= waits for a change
SERVED = ("/room/seats", "/room/events", "/room/view.json", "/room/live")


def store_path(home: RoomHome) -> Path:
    return home.folder / "events.sqlite"


def view_key(home: RoomHome) -> str:
    """The instructor's key to the view (made once, kept 0600 in the room folder)."""
    return kept_secret(home.folder / "view.key", lambda: secrets.token_urlsafe(18))


class Live:
    """What the routes share: the store, the fold of its events, and a signal for waiting views."""

    def __init__(self, home: RoomHome, store: RoomStore, workshop: Workshop | None) -> None:
        self.home, self.store, self.workshop = home, store, workshop
        self.fold = Fold()
        self.version = 0
        self.changed = asyncio.Event()
        self.key = view_key(home)

    def touch(self) -> None:
        self.version += 1
        self.changed.set()
        self.changed = asyncio.Event()

    def refuse(self, refusal: Refused) -> web.Response:
        self.store.count(refusal.kind)
        return web.json_response({"refused": refusal.reason, "kind": refusal.kind}, status=refusal.status)

    def view(self) -> dict:
        self.fold.update(self.store)
        data = build(self.fold, self.workshop, self.store.refusals, current_lab=self.home.current_lab())
        data["version"] = self.version
        return data


def _content() -> Workshop | None:
    try:
        return load_workshop(content_root())
    except Exception:  # noqa: BLE001 - the view orders steps by the content when it can; it works without
        return None


def add_routes(app: web.Application, home: RoomHome, max_pages: int | None = None) -> None:
    pages = max_pages or int(os.environ.get("WORKSHOP_ROOM_MAX_PAGES", "0") or 0) or None
    live = Live(home, RoomStore(store_path(home), max_pages=pages), _content())
    app[STATE] = live
    app.middlewares.insert(0, _count_wrong_tokens)

    async def seats(request: web.Request) -> web.Response:
        try:
            data = await _json_body(request, 4096)
            name, machine = data.get("name"), data.get("machine")
            if not isinstance(name, str) or not NAME.match(name):
                raise Refused(400, "malformed", "a name is 1 to 64 letters, digits, spaces, '.', '_' or '-', "
                              "starting with a letter or digit")
            if not isinstance(machine, str) or not 16 <= len(machine) <= 128:
                raise Refused(400, "malformed", "a seat request carries the machine's secret (16 to 128 characters)")
            seat = await asyncio.get_running_loop().run_in_executor(None, live.store.take_seat, name, machine)
        except Refused as refusal:
            return live.refuse(refusal)
        live.touch()
        return web.json_response({"seat_id": seat.id, "seat_key": seat.key, "name": seat.name, "last_seq": seat.last_seq})

    async def events(request: web.Request) -> web.Response:
        try:
            body = await _body(request)
            seat = live.store.seat(request.headers.get(signing.SEAT_HEADER, ""))
            if seat is None:
                raise Refused(401, "unknown seat", "this room has no such seat: join the room again "
                              "(`workshop join URL --token T --name NAME`)")
            if not signing.valid(seat.key, body, request.headers.get(signing.SIGNATURE_HEADER, "")):
                raise Refused(401, "bad signature", "the events are not signed with this seat's key: nothing was taken")
            batch = parse_batch(body, seat.name)
            taken = await asyncio.get_running_loop().run_in_executor(None, live.store.take, seat, batch)
        except Refused as refusal:
            return live.refuse(refusal)
        if taken.taken:
            live.touch()
        return web.json_response({"taken": taken.taken, "already_taken": taken.duplicates, "last_seq": taken.last_seq,
                                  "clock": taken.clock})

    async def view_json(request: web.Request) -> web.Response:
        given = request.headers.get(VIEW_HEADER) or request.query.get("key", "")
        if not hmac.compare_digest(given.encode(), live.key.encode()):
            return live.refuse(Refused(403, "no view key", "the room's view is the instructor's: it needs the view key "
                                       "(`workshop room view` on the instructor's machine, or the page's address it prints)"))
        after = request.query.get("after")
        if after is not None and after == str(live.version):
            waiting = live.changed
            try:
                await asyncio.wait_for(waiting.wait(), LONG_POLL)
            except TimeoutError:
                pass
        return web.json_response(live.view(), headers={"Cache-Control": "no-store"})

    async def page(request: web.Request) -> web.Response:
        html = resources.files("workshop.room").joinpath("page.html").read_text(encoding="utf-8")
        return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def not_served(request: web.Request) -> web.Response:
        return web.json_response({"refused": f"the room does not serve {request.path[:200]}; it serves "
                                  f"{', '.join(SERVED)}"}, status=404)

    app.router.add_post("/room/seats", seats)
    app.router.add_post("/room/events", events)
    app.router.add_get("/room/view.json", view_json)
    app.router.add_get("/room/live", page)
    app.router.add_route("*", "/room/{tail:.*}", not_served)
    app.on_cleanup.append(lambda _app: _close(live))


async def _close(live: Live) -> None:
    live.store.close()


@web.middleware
async def _count_wrong_tokens(request: web.Request, handler) -> web.StreamResponse:  # type: ignore[no-untyped-def]
    """Counts the learners' requests the token check refuses (the server's middleware answers them)."""
    response = await handler(request)
    refused_token = response.status == 401 and "WWW-Authenticate" in response.headers  # the token check's answer
    if refused_token and request.path in ("/room/seats", "/room/events") and STATE in request.app:
        live = request.app[STATE]
        assert isinstance(live, Live)
        live.store.count("wrong token")
    return response


async def _body(request: web.Request, limit: int = BODY_LIMIT) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise Refused(413, "oversized", f"the request is {request.content_length} bytes; the room takes at most {limit}")
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        raise Refused(413, "oversized", f"the request is over {limit} bytes")
    return body


async def _json_body(request: web.Request, limit: int) -> dict:
    try:
        data = json.loads(await _body(request, limit))
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "malformed", "the request is not JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "malformed", "the request must be a JSON object")
    return data
