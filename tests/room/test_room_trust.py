"""The room's trust and bad input, each with its own sentence: an unreachable room, a wrong token, a
room for another platform, a file that is not the manifest's, a manifest not signed with the token, a
download cut in the middle, the room's port in use, two rooms on one machine, a path outside what the
room serves, and `join` run twice (it resumes)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zstandard

from tests.room.conftest import WORKSHOP, Netns, Room, person

pytestmark = pytest.mark.slow


def _get(netns: Netns, url: str, token: str | None) -> tuple[int, str]:
    """GET inside the namespace; (status, first line of the body)."""
    code = f"""
import base64, urllib.request, urllib.error
req = urllib.request.Request({url!r})
if {token!r} is not None:
    req.add_header("Authorization", "Basic " + base64.b64encode(b"x:" + {token!r}.encode()).decode())
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        print(r.status, r.read(200).decode(errors="replace").splitlines()[0] if r.length != 0 else "")
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode(errors="replace").splitlines()[0])
"""
    out = netns.run([sys.executable, "-c", code], env=person(Path("/tmp/room-get")), timeout=60).stdout.strip()
    status, _, body = out.partition(" ")
    return int(status), body


def _join(netns: Netns, env: dict[str, str], url: str, token: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return netns.run([*WORKSHOP, "join", url, "--token", token, "--name", "lin"], env=env, timeout=timeout)


def _learner(tmp_path: Path, name: str = "lin") -> dict[str, str]:
    return person(tmp_path / name, WORKSHOP_TOOLS_DIR=str(tmp_path / name / "tools"))


def test_an_unreachable_room_is_said_plainly(netns: Netns, tmp_path: Path) -> None:
    port = netns.free_port()  # nothing listens there
    proc = _join(netns, _learner(tmp_path), f"http://127.0.0.1:{port}", "t", timeout=60)
    assert proc.returncode == 3
    assert f"the room at http://127.0.0.1:{port} does not answer" in proc.stderr
    assert "instructor's screen" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "lin" / "state" / "room" / "joined.json").exists()


def test_a_wrong_token_is_refused(netns: Netns, room: Room, tmp_path: Path) -> None:
    proc = _join(netns, _learner(tmp_path), room.url, "not-the-token", timeout=60)
    assert proc.returncode == 3 and "refused the token" in proc.stderr, proc.stderr
    assert _get(netns, f"{room.url}/lab", None)[0] == 401
    assert _get(netns, f"{room.url}/lab", "wrong")[0] == 401
    assert _get(netns, f"{room.url}/go/wrong/gopkg.in/yaml.v3/@v/list", None)[0] == 401


def test_only_what_the_room_lists_is_served(netns: Netns, room: Room) -> None:
    token = room.token
    assert _get(netns, f"{room.url}/lab", token)[0] == 200
    for path in ("/token", f"/go/{token}/../token", f"/go/{token}/..%2F..%2Ftoken", "/wheels/..%2Ftoken",
                 "/programs/blobs/" + "0" * 64 + ".zst", "/programs/blobs/../token", "/etc/passwd", "/simple/no-such/"):
        status, body = _get(netns, room.url + path, token)
        assert status in (404, 400), (path, status, body)
        assert token not in body
    manifest = json.loads((room.home / "manifest.json").read_text())
    listed = manifest["files"][0]["sha256"]
    assert _get(netns, f"{room.url}/programs/blobs/{listed}.zst", token)[0] == 200


def test_the_rooms_port_in_use_and_two_rooms_on_one_machine(netns: Netns, room: Room, tmp_path: Path) -> None:
    port = int(room.url.rsplit(":", 1)[1])
    # a second room from the same folder: told that it is served already, and where
    second = netns.run([*WORKSHOP, "room", "serve", "--listen", f"127.0.0.1:{netns.free_port()}"], env=room.env, timeout=120)
    assert second.returncode == 3 and f"is already being served at {room.url}" in second.stderr, second.stderr
    # another instructor's room on the port this one holds
    other = person(tmp_path / "other", WORKSHOP_TOOLS_DIR=room.env["WORKSHOP_TOOLS_DIR"], GOMODCACHE=room.env["GOMODCACHE"])
    shutil.copytree(room.home, tmp_path / "other" / "data" / "room", ignore=shutil.ignore_patterns("serve.lock", "token"))
    taken = netns.run([*WORKSHOP, "room", "serve", "--listen", f"127.0.0.1:{port}", "--no-wheels"], env=other, timeout=300)
    assert taken.returncode == 3 and f"port {port} on 127.0.0.1 is already in use" in taken.stderr, taken.stderr
    assert "--listen" in taken.stderr


def _forged_room(tmp_path: Path, room: Room, *, platform: str | None = None, sign_with: str | None = None,
                 tamper: str = "") -> Room:
    """A copy of the room's folder, changed: its manifest's platform, a blob's bytes, or the key that signs."""
    folder = tmp_path / "forger"
    env = person(folder, WORKSHOP_TOOLS_DIR=room.env["WORKSHOP_TOOLS_DIR"], GOMODCACHE=room.env["GOMODCACHE"])
    home = folder / "data" / "room"
    home.mkdir(parents=True)
    for name in ("go", "go.done", "manifest.json", "hashes.json", "token"):
        src = room.home / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, home / name)
    (home / "blobs").mkdir()
    manifest = json.loads((room.home / "manifest.json").read_text())
    for f in manifest["files"]:
        (home / "blobs" / f"{f['sha256']}.zst").symlink_to(room.home / "blobs" / f"{f['sha256']}.zst")
    if platform:
        manifest["platform"] = platform
    if tamper:
        entry = next(f for f in manifest["files"] if f["path"] == tamper)
        blob = home / "blobs" / f"{entry['sha256']}.zst"
        blob.unlink()
        blob.write_bytes(zstandard.ZstdCompressor().compress(b"#!/bin/sh\necho not etcd\n"))
        entry["compressed"] = blob.stat().st_size
    (home / "manifest.json").write_text(json.dumps(manifest))
    if sign_with:
        (home / "token").write_text(sign_with + "\n")
    return Room("", (home / "token").read_text().strip(), home, env, folder / "serve.log")


FORGED_SERVER = """
import sys
from pathlib import Path
from aiohttp import web
from workshop.room import auth
from workshop.room.home import RoomHome
from workshop.room.server import build_app

home, port, any_token = RoomHome(Path(sys.argv[1])), int(sys.argv[2]), sys.argv[3] == "any-token"

@web.middleware
async def takes_any_token(request, handler):  # a machine that answers for the room, whatever the token
    return await handler(request.clone(headers={**request.headers, "Authorization": auth.header(home.token())}))

app = build_app(home)
if any_token:
    app.middlewares.insert(0, takes_any_token)
print("serving", flush=True)
web.run_app(app, host="127.0.0.1", port=port, print=None)
"""


def _serve_forged(netns: Netns, forged: Room, any_token: bool = False) -> tuple[subprocess.Popen[bytes], str]:
    """The room's own app over the forged folder, without stocking it (which would make it right again)."""
    port = netns.free_port()
    argv = [sys.executable, "-c", FORGED_SERVER, str(forged.home), str(port), "any-token" if any_token else "-"]
    proc = netns.spawn(argv, forged.env, forged.log)
    url = f"http://127.0.0.1:{port}"
    probe = "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=1)"
    for _ in range(100):
        if netns.run([sys.executable, "-c", probe, str(port)], env=forged.env, timeout=30).returncode == 0:
            return proc, url
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(forged.log.read_text())


def test_a_room_for_another_platform(netns: Netns, room: Room, tmp_path: Path) -> None:
    forged = _forged_room(tmp_path, room, platform="darwin-arm64")
    proc, url = _serve_forged(netns, forged)
    try:
        joined = _join(netns, _learner(tmp_path), url, forged.token, timeout=120)
    finally:
        proc.terminate()
    assert joined.returncode == 3
    assert "serves programs for darwin-arm64, and this machine is linux-" in joined.stderr, joined.stderr
    assert not (tmp_path / "lin" / "tools" / "bin").exists()


def test_a_file_that_is_not_the_manifests_is_never_used(netns: Netns, room: Room, tmp_path: Path) -> None:
    forged = _forged_room(tmp_path, room, tamper="bin/etcd")
    proc, url = _serve_forged(netns, forged)
    try:
        joined = _join(netns, _learner(tmp_path), url, forged.token)
    finally:
        proc.terminate()
    assert joined.returncode == 3
    assert "bin/etcd from the room is not the file its manifest names" in joined.stderr, joined.stderr
    tools = tmp_path / "lin" / "tools"
    assert not (tools / "bin" / "etcd").exists() and not (tools / "recipes" / "etcd").exists()
    assert not list(tools.rglob(".*.joining"))


def test_a_manifest_not_signed_with_the_token(netns: Netns, room: Room, tmp_path: Path) -> None:
    """Another machine answering for the room: it takes any token, and signs with its own key."""
    forged = _forged_room(tmp_path, room, sign_with="the-forgers-key")
    proc, url = _serve_forged(netns, forged, any_token=True)
    try:
        joined = _join(netns, _learner(tmp_path), url, room.token, timeout=120)
    finally:
        proc.terminate()
    assert joined.returncode == 3
    assert "is not signed with this room's token, so nothing from it is used" in joined.stderr, joined.stderr
    assert not (tmp_path / "lin" / "tools" / "bin").exists()
    assert not (tmp_path / "lin" / "state" / "room" / "joined.json").exists()  # such a room is not remembered


def test_a_download_cut_in_the_middle_is_resumed_never_used(room: Room, tmp_path: Path) -> None:
    """A proxy between learner and room cuts every blob after 1 MB: the part is kept and resumed with a
    Range request; the file is installed only once whole and verified."""
    import threading

    from aiohttp import web

    from workshop.room.client import Room as Client
    from workshop.room.home import RoomError

    manifest = json.loads((room.home / "manifest.json").read_text())
    entry = min((f for f in manifest["files"] if f["compressed"] > 3 << 20), key=lambda f: f["compressed"])
    ranges: list[str] = []
    cut = {"on": True}

    async def relay(request: web.Request) -> web.StreamResponse:
        # the room itself runs in the namespace; the relay reads its blob folder as the room would serve it
        ranges.append(request.headers.get("Range", ""))
        path = room.home / "blobs" / request.match_info["name"]
        data = path.read_bytes()
        start = int(request.headers.get("Range", "bytes=0-")[6:].rstrip("-") or 0)
        resp = web.StreamResponse(status=206 if start else 200, headers={"Content-Length": str(len(data) - start)})
        await resp.prepare(request)
        await resp.write(data[start:start + (1 << 20)] if cut["on"] else data[start:])
        if cut["on"]:
            request.transport.close()  # cut: fewer bytes than Content-Length said
            return resp
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/programs/blobs/{name}", relay)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    runner = web.AppRunner(app)
    import asyncio

    loop = asyncio.new_event_loop()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.SockSite(runner, sock).start())
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    time.sleep(0.5)
    client = Client(f"http://127.0.0.1:{port}", room.token)
    dest, parts = tmp_path / "tools" / entry["path"], tmp_path / "parts"
    with pytest.raises(RoomError) as err:
        client.fetch(entry, dest, parts, lambda n: None)
    assert f"the download of {entry['path']} was cut (3 of" in str(err.value), str(err.value)
    assert "run `workshop join` again: it resumes where it stopped" in err.value.hint
    assert not dest.exists()
    assert ranges[0] == "" and ranges[1] == "bytes=1048576-" and ranges[2] == "bytes=2097152-"
    cut["on"] = False
    client.fetch(entry, dest, parts, lambda n: None)
    assert ranges[-1] == "bytes=3145728-"
    import hashlib

    assert hashlib.sha256(dest.read_bytes()).hexdigest() == entry["sha256"]
    assert not list(parts.iterdir())
    loop.call_soon_threadsafe(loop.stop)
