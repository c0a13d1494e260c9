"""The room's one HTTP server (aiohttp): every route asks for the room token (auth.py); each area adds
its own routes (``add_routes(app, home)`` in its module), and this module only lists them.

Bound to 127.0.0.1 unless the instructor says otherwise; one room per room folder (a lock), and a
port already in use is said plainly.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from workshop.room import auth, live, preparation
from workshop.room.home import RoomError, RoomHome

HOME = web.AppKey("room_home", RoomHome)
TOKEN = web.AppKey("room_token", str)
ROUTES: tuple[Callable[[web.Application, RoomHome], None], ...] = (preparation.add_routes, live.add_routes)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _room_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request carries the room token (the basic auth password; for Go, the path's first part),
    or gets 401 and nothing else."""
    token = request.app[TOKEN]
    if request.path.startswith(auth.GO_PREFIX):
        ok = auth.path_token_ok(token, request.path)
    else:
        ok = auth.token_ok(token, request.headers.get("Authorization", ""))
    if not ok:
        return web.Response(status=401, text="this is a workshop room: join it with its token "
                            "(workshop join URL --token T --name NAME)\n",
                            headers={"WWW-Authenticate": f'Basic realm="{auth.REALM}"'})
    return await handler(request)


def build_app(home: RoomHome) -> web.Application:
    app = web.Application(middlewares=[_room_only], client_max_size=1024 * 1024)
    app[HOME] = home
    app[TOKEN] = home.token()
    for add_routes in ROUTES:
        add_routes(app, home)
    return app


def _hold(lock: Path) -> int:
    """Hold the room folder's lock for as long as this process serves it: a second `room serve` of
    the same folder is told who serves it."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        said = os.read(fd, 512).decode(errors="replace").strip()
        os.close(fd)
        raise RoomError(f"this room ({lock.parent}) is already being served{f' at {said}' if said else ''} by another "
                        "`workshop room serve`", "use that one, stop it first, or give this one another folder "
                        "(WORKSHOP_DATA_DIR)") from None
    return fd


def serve(home: RoomHome, host: str, port: int, ready: Callable[[str], None],
          stock: Callable[[], object] | None = None) -> None:
    """Serve the room on host:port until interrupted, holding its folder's lock; ``stock()`` (what the
    room serves, made or checked) runs under that lock first; ``ready(url)`` once it listens."""
    fd = _hold(home.lock_file)
    try:
        if stock is not None:
            stock()
        asyncio.run(_serve(home, host, port, ready, fd))
    finally:
        os.close(fd)


async def _serve(home: RoomHome, host: str, port: int, ready: Callable[[str], None], fd: int) -> None:
    runner = web.AppRunner(build_app(home), access_log=None, handle_signals=True)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno == errno.EADDRINUSE:
            raise RoomError(f"port {port} on {host} is already in use (another room, or another program)",
                            "choose another with --listen ADDR:PORT, or stop that program") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise RoomError(f"{host} is not an address of this machine", "use one `ip addr` lists, "
                            "or 127.0.0.1") from None
        raise
    bound = runner.addresses[0][1] if runner.addresses else port
    url = f"http://{host}:{bound}"
    os.ftruncate(fd, 0)
    os.pwrite(fd, url.encode(), 0)
    ready(url)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
