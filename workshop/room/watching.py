"""The instructor's side of the live view: where this machine's room is served, and its view as data.

`workshop room serve` writes its address into the room folder's lock file; the view key and the token
are files beside it, so `workshop room view` on the instructor's machine needs no argument.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

from workshop.env import http
from workshop.room import auth
from workshop.room.home import RoomError, RoomHome
from workshop.room.live import VIEW_HEADER, view_key


@dataclass
class LiveRoom:
    """A room served from this machine, read over HTTP like any client would."""

    url: str
    token: str
    key: str

    @classmethod
    def here(cls, home: RoomHome | None = None) -> LiveRoom:
        home = home or RoomHome.default()
        try:
            url = home.lock_file.read_text().strip()
        except FileNotFoundError:
            url = ""
        if not url or not home.token_file.exists():
            raise RoomError(f"no room is served from {home.folder}", "start it with `workshop room serve` "
                            "(or give `workshop room view` a folder of progress files)")
        return cls(url, home.token(), view_key(home))

    @property
    def page(self) -> str:
        """The live page's address, for a browser (the browser asks for the room token: any user name)."""
        return f"{self.url}/room/live#{quote(self.key)}"

    def view(self, after: int | None = None, timeout: float = 20.0) -> dict:
        """The room's view; with ``after``, waits (up to the room's long poll) for something newer."""
        query = f"?after={after}" if after is not None else ""
        try:
            resp = http.request(f"{self.url}/room/view.json{query}", timeout=timeout,
                                headers={"Authorization": auth.header(self.token, "instructor"), VIEW_HEADER: self.key})
        except http.NoResponse as exc:
            raise RoomError(f"the room at {self.url} does not answer: {exc}", "is `workshop room serve` still running?") from None
        if resp.status != 200:
            raise RoomError(f"the room at {self.url} refused the view (HTTP {resp.status}): {resp.text[:200]}",
                            "run `workshop room view` as the user who serves the room")
        return json.loads(resp.body)
