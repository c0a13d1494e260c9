"""`room` as a command group (serve, goto, view; `room DIR` still the view), `join`'s remembered room,
and the token's file: fast, no server needed."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from workshop.room import auth
from workshop.room.home import Joined, RoomHome


def test_the_folder_view_is_still_reachable_both_ways(workshop_cli, tmp_path: Path) -> None:
    (tmp_path / "progress").mkdir()
    for argv in (("room", str(tmp_path / "progress"), "--json"), ("room", "view", str(tmp_path / "progress"), "--json")):
        proc = workshop_cli(*argv, check_code=0)
        assert json.loads(proc.stdout) == {"learners": []}
    missing = workshop_cli("room", "view", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "is not a folder" in missing.stderr


def test_goto_names_a_lab_of_this_workshop(workshop_cli, tmp_path: Path) -> None:
    proc = workshop_cli("room", "goto", "03", check_code=0)
    assert "03-configuration" in proc.stdout
    assert RoomHome(tmp_path / "data" / "room").current_lab() == "03-configuration"
    bad = workshop_cli("room", "goto", "99")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_listen_must_be_addr_port(workshop_cli) -> None:
    proc = workshop_cli("room", "serve", "--listen", "nonsense")
    assert proc.returncode == 2 and "--listen nonsense is not ADDR:PORT" in proc.stderr


def test_the_token_is_fresh_and_private(tmp_path: Path) -> None:
    home = RoomHome(tmp_path / "room")
    token = home.token()
    assert len(token) >= 20 and home.token() == token
    assert stat.S_IMODE(home.token_file.stat().st_mode) == 0o600
    assert home.token(renew=True) != token


def test_joined_is_remembered_with_what_others_keep_there(tmp_path: Path) -> None:
    Joined("http://127.0.0.1:1", "t", "ada", {"seat_key": "k"}).save()
    again = Joined.load()
    assert again and again.url == "http://127.0.0.1:1" and again.extra == {"seat_key": "k"}
    assert stat.S_IMODE(Joined.path().stat().st_mode) == 0o600
    Joined.path().write_text("{not json")
    assert Joined.load() is None


def test_auth_basic_and_the_go_path() -> None:
    assert auth.token_ok("tok", auth.header("tok", "ada"))
    assert not auth.token_ok("tok", auth.header("other"))
    assert not auth.token_ok("tok", "Bearer tok") and not auth.token_ok("tok", "Basic !!!")
    assert auth.path_token_ok("tok", "/go/tok/x/@v/list") and not auth.path_token_ok("tok", "/go/to/x")
    assert auth.go_proxy("http://h:1/", "a/b") == "http://h:1/go/a%2Fb"
    body = b'{"files": []}'
    assert auth.signature_ok("tok", body, auth.sign("tok", body)) and not auth.signature_ok("tok", body, auth.sign("x", body))
