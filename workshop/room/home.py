"""Where a room lives on the instructor's machine (RoomHome), and what a learner remembers of the room
they joined (Joined)."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workshop.core.atomic import kept_secret, write_atomic
from workshop.core.errors import WorkshopError
from workshop.core.locations import data_dir, state_dir


def _new_token() -> str:
    token = secrets.token_urlsafe(18)
    while token.startswith("-"):  # `--token -x...` would read as an option on the learner's command line
        token = secrets.token_urlsafe(18)
    return token


class RoomError(WorkshopError):
    """Something about a room (serving it, joining it) the user can fix; the hint says how."""


@dataclass(frozen=True)
class RoomHome:
    """The instructor's room folder: the token, the lab being taught, and what the room serves."""

    folder: Path

    @classmethod
    def default(cls) -> RoomHome:
        return cls(data_dir() / "room")

    @property
    def token_file(self) -> Path:
        return self.folder / "token"

    @property
    def lab_file(self) -> Path:
        return self.folder / "lab.json"

    @property
    def go_folder(self) -> Path:
        return self.folder / "go"

    @property
    def blobs(self) -> Path:
        return self.folder / "blobs"

    @property
    def wheels(self) -> Path:
        return self.folder / "wheels"

    @property
    def manifest_file(self) -> Path:
        return self.folder / "manifest.json"

    @property
    def lock_file(self) -> Path:
        return self.folder / "serve.lock"

    def token(self, renew: bool = False) -> str:
        """The room token, made fresh (secrets) the first time or when ``renew``; kept in a 0600 file."""
        return kept_secret(self.token_file, _new_token, renew=renew)

    def current_lab(self) -> str:
        """The lab's slug the instructor set with `room goto` ("" before the first goto)."""
        try:
            return str(json.loads(self.lab_file.read_text()).get("lab", ""))
        except (OSError, ValueError):
            return ""

    def goto(self, slug: str) -> None:
        write_atomic(self.lab_file, json.dumps({"lab": slug}) + "\n")


@dataclass
class Joined:
    """The room this learner joined: written atomically to state_dir()/room/joined.json."""

    url: str
    token: str
    name: str
    extra: dict[str, Any] = field(default_factory=dict)  # what other parts keep here (a seat key), kept by save

    @staticmethod
    def path() -> Path:
        return state_dir() / "room" / "joined.json"

    def save(self) -> None:
        data = {**self.extra, "url": self.url, "token": self.token, "name": self.name}
        write_atomic(self.path(), json.dumps(data, indent=2) + "\n")
        os.chmod(self.path(), 0o600)

    @classmethod
    def load(cls) -> Joined | None:
        try:
            data = json.loads(cls.path().read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("url", "token", "name")):
            return None
        extra = {k: v for k, v in data.items() if k not in ("url", "token", "name")}
        return cls(data["url"], data["token"], data["name"], extra)
