"""A learner's side of the wire: asks the room (with its token), checks the manifest's signature, and
fetches one file: resumed where a cut download stopped, decompressed and hashed on the way, and
installed only when its sha256 is the manifest's (written beside it, then renamed: never half a file)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

from workshop.room import auth
from workshop.room.home import RoomError

TIMEOUT = 20.0
CHUNK = 1 << 20
ATTEMPTS = 3
UNREACHABLE_HINT = ("check the address on the instructor's screen, that the instructor's `workshop room serve` runs, "
                    "and that this machine is on the room's network")


class NotTheManifest(RoomError):
    """A file from the room is not what the signed manifest says: never used."""


@dataclass(frozen=True)
class Room:
    url: str  # http://ADDR:PORT, no trailing slash
    token: str
    name: str = "learner"

    def _open(self, path: str, headers: dict[str, str] | None = None, timeout: float = TIMEOUT) -> Any:
        req = urllib.request.Request(f"{self.url}{path}", headers={"Authorization": auth.header(self.token, self.name),
                                                                   **(headers or {})})
        try:
            return urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 (http to the room the learner named)
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise RoomError(f"the room at {self.url} refused the token",
                                "copy the token again from the instructor's screen (`workshop join URL --token T ...`)") from None
            if exc.code == 404:
                raise RoomError(f"the room at {self.url} does not serve {path}", "the instructor's workshop may be another "
                                "version: ask them, or install the workshop from the room (its pip line)") from None
            if exc.code == 503:
                raise RoomError(f"the room at {self.url} has nothing to serve yet ({exc.read().decode(errors='replace').strip()})",
                                "ask the instructor to run `workshop room serve` until it says the room is served") from None
            raise RoomError(f"the room at {self.url} answered {exc.code} for {path}", UNREACHABLE_HINT) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise RoomError(f"the room at {self.url} does not answer ({reason})", UNREACHABLE_HINT) from None

    def json(self, path: str) -> Any:
        with self._open(path) as resp:
            body = resp.read()
        try:
            return json.loads(body)
        except ValueError:
            raise RoomError(f"{self.url} answered {path} with something that is not a workshop room's",
                            "check the address on the instructor's screen") from None

    def lab(self) -> str:
        answer = self.json("/lab")
        if not isinstance(answer, dict) or not isinstance(answer.get("lab"), str):
            raise RoomError(f"{self.url} is not a workshop room (its /lab says something else)",
                            "check the address on the instructor's screen")
        return answer["lab"]

    def manifest(self) -> dict[str, Any]:
        """The programs' manifest, only if its signature is the room token's."""
        with self._open("/programs/manifest.json") as resp:
            body, signature = resp.read(), resp.headers.get(auth.SIGNATURE_HEADER, "")
        if not auth.signature_ok(self.token, body, signature):
            raise RoomError(f"the manifest from {self.url} is not signed with this room's token, so nothing from it is used",
                            "another machine may be answering for the room: check the address and token with the "
                            "instructor") from None
        return json.loads(body)

    def fetch(self, entry: dict[str, Any], dest: Path, parts: Path, on_bytes: Callable[[int], None]) -> None:
        """Install the manifest's ``entry`` at ``dest``: download (resuming a part), verify, rename."""
        sha = entry["sha256"]
        part = parts / f"{sha}.zst.part"
        parts.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                self._download(sha, part, int(entry["compressed"]), on_bytes)
                break
            except (OSError, http.client.HTTPException, RoomError) as exc:
                if attempt == ATTEMPTS:
                    have = part.stat().st_size if part.exists() else 0
                    raise RoomError(f"the download of {entry['path']} was cut ({have >> 20} of "
                                    f"{int(entry['compressed']) >> 20} MB; {exc})",
                                    "run `workshop join` again: it resumes where it stopped") from None
        _install(part, entry, dest)

    def _download(self, sha: str, part: Path, size: int, on_bytes: Callable[[int], None]) -> None:
        have = part.stat().st_size if part.exists() else 0
        if have > size:
            part.unlink()
            have = 0
        if have == size:
            return
        headers = {"Range": f"bytes={have}-"} if have else {}
        with self._open(f"/programs/blobs/{sha}.zst", headers, timeout=TIMEOUT) as resp:
            mode = "ab" if have and resp.status == 206 else "wb"
            got = have if mode == "ab" else 0
            with open(part, mode) as out:
                while chunk := resp.read(CHUNK):
                    out.write(chunk)
                    got += len(chunk)
                    on_bytes(len(chunk))
        if got != size:
            raise OSError(f"{got} of {size} bytes came")


def _install(part: Path, entry: dict[str, Any], dest: Path) -> None:
    """Decompress ``part`` next to ``dest`` while hashing; rename into place only if the sha256 is the manifest's."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.joining")
    h = hashlib.sha256()
    try:
        with open(part, "rb") as fin, open(tmp, "wb") as fout:
            reader = zstandard.ZstdDecompressor().stream_reader(fin)
            while chunk := reader.read(CHUNK):
                h.update(chunk)
                fout.write(chunk)
    except zstandard.ZstdError:
        h = hashlib.sha256(b"not zstd")
    if h.hexdigest() != entry["sha256"]:
        tmp.unlink(missing_ok=True)
        part.unlink(missing_ok=True)
        raise NotTheManifest(f"{entry['path']} from the room is not the file its manifest names (sha256 {h.hexdigest()[:16]}…, "
                             f"expected {entry['sha256'][:16]}…), so it was not installed",
                             "run `workshop join` again; if it happens again, tell the instructor (the room's files "
                             "may have changed or been tampered with)")
    tmp.chmod(int(entry.get("mode", 0o644)) & 0o755)
    os.replace(tmp, dest)
    part.unlink(missing_ok=True)

