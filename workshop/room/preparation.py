"""The preparation routes, read-only, serving only what the room lists:

- ``/lab``: the lab the room is on (`workshop room goto`);
- ``/go/TOKEN/...``: the Go module proxy (GOPROXY protocol), the room's own module folder (stock.py);
- ``/programs/manifest.json`` (signed: the X-Room-Signature header, HMAC-SHA256 with the room token)
  and ``/programs/blobs/SHA256.zst``, only the blobs the manifest names;
- ``/simple/`` (PEP 503) and ``/wheels/FILE``: the wheels, as an index pip reads.

Any other path is refused (404); nothing a learner sends is ever run.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path

from aiohttp import web

from workshop.room import auth
from workshop.room.home import RoomHome

SHA = re.compile(r"^[0-9a-f]{64}$")
NOT_STOCKED = "the room has nothing to serve yet: the instructor runs `workshop room serve` (it stocks the room)\n"


def normalize(name: str) -> str:
    """A project's name as PEP 503 writes it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_project(filename: str) -> str:
    return normalize(filename.split("-", 1)[0])


def _inside(root: Path, tail: str) -> Path | None:
    """The file ``tail`` names under ``root``, or None when it is not a plain file there (``..``, links out)."""
    if not tail or "\\" in tail or any(part in ("", ".", "..") for part in tail.split("/")):
        return None
    path = (root / tail).resolve()
    try:
        path.relative_to(root.resolve())
    except ValueError:
        return None
    return path if path.is_file() else None


class Wheels:
    """The wheels folder, with each wheel's sha256 (computed once per file)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.hashes: dict[tuple[str, int, int], str] = {}

    def projects(self) -> dict[str, list[Path]]:
        found: dict[str, list[Path]] = {}
        if self.folder.is_dir():
            for p in sorted(self.folder.glob("*.whl")):
                found.setdefault(wheel_project(p.name), []).append(p)
        return found

    def sha256(self, path: Path) -> str:
        st = path.stat()
        key = (path.name, st.st_size, st.st_mtime_ns)
        if key not in self.hashes:
            self.hashes[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        return self.hashes[key]


def _page(title: str, links: list[tuple[str, str]]) -> web.Response:
    body = "".join(f'<a href="{html.escape(href)}">{html.escape(text)}</a><br>\n' for href, text in links)
    return web.Response(text=f"<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\">"
                        f"<title>{html.escape(title)}</title></head><body>\n{body}</body></html>\n", content_type="text/html")


def add_routes(app: web.Application, home: RoomHome) -> None:
    wheels = Wheels(home.wheels)

    async def lab(request: web.Request) -> web.Response:
        return web.json_response({"lab": home.current_lab()})

    def manifest() -> tuple[bytes, dict]:
        try:
            body = home.manifest_file.read_bytes()
            return body, json.loads(body)
        except (OSError, ValueError):
            raise web.HTTPServiceUnavailable(text=NOT_STOCKED) from None

    async def programs_manifest(request: web.Request) -> web.Response:
        body, _ = manifest()
        return web.Response(body=body, content_type="application/json",
                            headers={auth.SIGNATURE_HEADER: auth.sign(home.token(), body)})

    async def blob(request: web.Request) -> web.StreamResponse:
        sha = request.match_info["sha"]
        _, listed = manifest()
        named = {f["sha256"] for f in listed.get("files", [])} | {(listed.get("gocache") or {}).get("sha256")}
        if not SHA.match(sha) or sha not in named:
            raise web.HTTPNotFound(text="the room serves only the files its manifest lists\n")
        path = home.blobs / f"{sha}.zst"
        if not path.is_file():
            raise web.HTTPServiceUnavailable(text=NOT_STOCKED)
        return web.FileResponse(path, headers={"Content-Type": "application/zstd"})

    async def go(request: web.Request) -> web.StreamResponse:
        path = _inside(home.go_folder, request.match_info["tail"])  # the token (checked by the server) is not part of it
        if path is None or path.suffix in (".lock", ".tmp", ".partial"):
            raise web.HTTPNotFound(text="not a module this room serves\n")
        return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})

    async def simple(request: web.Request) -> web.Response:
        return _page("the workshop room's wheels", [(f"{name}/", name) for name in wheels.projects()])

    async def project(request: web.Request) -> web.Response:
        name = request.match_info["project"]
        files = wheels.projects().get(normalize(name))
        if not files:
            raise web.HTTPNotFound(text=f"the room has no wheel of {name}\n")
        if name != normalize(name):
            raise web.HTTPMovedPermanently(f"/simple/{normalize(name)}/")
        return _page(f"Links for {name}", [(f"../../wheels/{p.name}#sha256={wheels.sha256(p)}", p.name) for p in files])

    async def wheel(request: web.Request) -> web.StreamResponse:
        path = _inside(home.wheels, request.match_info["file"])
        if path is None or path.suffix != ".whl":
            raise web.HTTPNotFound(text="not a wheel this room serves\n")
        return web.FileResponse(path)

    app.router.add_get("/lab", lab)
    app.router.add_get("/programs/manifest.json", programs_manifest)
    app.router.add_get("/programs/blobs/{sha}.zst", blob)
    app.router.add_get("/go/{token}/{tail:.+}", go)
    app.router.add_get("/simple/", simple)
    app.router.add_get("/simple/{project}/", project)
    app.router.add_get("/wheels/{file}", wheel)
