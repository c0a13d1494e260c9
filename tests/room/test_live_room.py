"""The room, live, driven as people would: an instructor serves the room, learners (their own HOMEs)
join and run `workshop check`; the instructor's view shows them, grouped by the same failing message.

The tests run inside a network namespace with only loopback (`unshare -n`) when the machine allows it:
`test_everything_here_runs_with_only_loopback` runs this module again inside one, so nothing can leave.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.room.people import Person, Room, stop_senders, tiny_content
from workshop.core.outbox import RoomEvent
from workshop.env import http
from workshop.room import auth, signing

IN_NAMESPACE = os.environ.get("WORKSHOP_TEST_NETNS") == "1"


@pytest.fixture
def people(tmp_path: Path):  # type: ignore[no-untyped-def]
    content = tiny_content(tmp_path / "content")
    made: dict[str, Person] = {}

    def person(name: str) -> Person:
        made[name] = made.get(name) or Person(name, tmp_path / name, content)
        return made[name]

    yield person
    stop_senders(*made.values())


def joined(room: Room, learner: Person, name: str | None = None) -> subprocess.CompletedProcess[str]:
    return learner.run("join", room.url, "--token", room.token, "--name", name or learner.name, "--prepared")


@pytest.mark.slow
def test_checks_reach_the_instructors_view_grouped_by_the_same_failure(people) -> None:  # type: ignore[no-untyped-def]
    room = Room.serve(people("instructor"))
    try:
        ada, bob, cy = people("ada"), people("bob"), people("cy")
        for learner in (ada, bob, cy):
            done = joined(room, learner)
            assert done.returncode == 0, done.stdout + done.stderr
            assert "no code, no paths, no environment" in done.stdout
        cy.solve()
        for learner in (ada, bob, cy):
            started = time.monotonic()
            learner.run("check", "01")
            assert time.monotonic() - started < 30
        view = room.wait_for(lambda v: v["room"]["events"] >= 6)
        assert view["groups"][0]["count"] == 2 and view["groups"][0]["learners"] == ["ada", "bob"]
        assert view["groups"][0]["message"].startswith("sha256 does not match: answer.txt says starter")
        rows = {r["learner"]: r for r in view["learners"]}
        assert rows["ada"]["status"] == "failing" and rows["ada"]["step"] == "one" and rows["ada"]["stuck_seconds"] >= 0
        assert rows["cy"]["status"] == "passed" and rows["cy"]["passed_steps"] == 2
        assert {g["learner"]: g["cells"] for g in view["grid"]}["cy"] == ["passed", "passed"]
        text = room.instructor.run("room", "view").stdout
        assert "2 learners: sha256 does not match" in text and "cy" in text
        # what was sent is what the join said: nothing else of the learner's machine
        sent = json.loads(ada.outbox.read_text().splitlines()[0]) if ada.outbox.read_text() else None
        fields = set(RoomEvent.__dataclass_fields__)
        assert sent is None or set(sent) == fields
        assert str(ada.home) not in json.dumps(view)
    finally:
        room.stop()


@pytest.mark.slow
def test_a_name_stays_with_its_machine_and_the_same_machine_gets_its_seat_back(people) -> None:  # type: ignore[no-untyped-def]
    room = Room.serve(people("instructor"))
    try:
        ada, other = people("ada"), people("eve")
        assert joined(room, ada).returncode == 0
        seat = json.loads((ada.home / "state" / "room" / "joined.json").read_text())["seat_id"]
        taken = joined(room, other, name="ada")
        assert taken.returncode != 0 and "taken by another machine" in taken.stderr and "--name" in taken.stderr
        assert joined(room, ada).returncode == 0
        assert json.loads((ada.home / "state" / "room" / "joined.json").read_text())["seat_id"] == seat
        wrong = ada.run("join", room.url, "--token", "not-the-token", "--name", "ada", "--prepared")
        assert wrong.returncode != 0 and "token" in wrong.stderr
    finally:
        room.stop()


@pytest.mark.slow
def test_forged_replayed_and_stray_requests_are_refused_counted_and_not_stored(people) -> None:  # type: ignore[no-untyped-def]
    room = Room.serve(people("instructor"))
    try:
        ada, bob = people("ada"), people("bob")
        joined(room, ada), joined(room, bob)
        a = json.loads((ada.home / "state" / "room" / "joined.json").read_text())
        b = json.loads((bob.home / "state" / "room" / "joined.json").read_text())
        e = RoomEvent(id="a" * 32, seq=1, learner="ada", lab="01-tiny", step="one", verdict="passed", at=time.time())
        body = json.dumps({"events": [e.to_dict()], "sent": time.time()}).encode()

        def post(seat: dict, signed_with: str, data: bytes, token: str | None = None) -> http.Response:
            return http.request(f"{room.url}/room/events", "POST", body=data, headers={
                "Authorization": auth.header(token or room.token), signing.SEAT_HEADER: seat["seat_id"],
                signing.SIGNATURE_HEADER: signing.sign(signed_with, data)})

        assert post(a, b["seat_key"], body).status == 401  # bob's key cannot sign for ada
        assert post(b, b["seat_key"], body).status == 403  # bob's own seat and key cannot post as ada
        assert post(a, a["seat_key"], body, token="wrong").status == 401
        assert post(a, a["seat_key"], b"{").status == 400
        assert post(a, a["seat_key"], body).status == 200
        again = post(a, a["seat_key"], body)
        assert again.status == 200 and json.loads(again.body)["already_taken"] == 1
        replay = RoomEvent(id="b" * 32, seq=1, learner="ada", lab="01-tiny", step="one", verdict="passed", at=time.time())
        data = json.dumps({"events": [replay.to_dict()], "sent": time.time()}).encode()
        refused = post(a, a["seat_key"], data)
        assert refused.status == 409 and "replayed" in json.loads(refused.body)["refused"]
        stray = http.request(f"{room.url}/room/secrets", headers={"Authorization": auth.header(room.token)})
        assert stray.status == 404 and "does not serve /room/secrets" in stray.text
        view_as_learner = http.request(f"{room.url}/room/view.json", headers={"Authorization": auth.header(room.token)})
        assert view_as_learner.status == 403 and "view key" in view_as_learner.text  # learners see nothing of each other
        view = room.view()
        assert view["room"]["events"] == 1
        assert view["room"]["refused"] == {"already taken": 1, "bad signature": 1, "malformed": 1, "no view key": 1,
                                           "not their seat": 1, "replayed": 1, "wrong token": 1}
    finally:
        room.stop()


@pytest.mark.slow
def test_nothing_is_lost_when_the_room_is_killed_or_the_laptop_sleeps(people) -> None:  # type: ignore[no-untyped-def]
    room = Room.serve(people("instructor"))
    port = int(room.url.rsplit(":", 1)[1])
    ada = people("ada")
    try:
        assert joined(room, ada).returncode == 0
        ada.run("check", "01/one")
        room.wait_for(lambda v: v["room"]["events"] == 1)
        room.kill9()  # in the middle of the workshop
        started = time.monotonic()
        ada.run("check", "01/one")
        ada.solve()
        second = ada.run("check", "01")
        assert time.monotonic() - started < 30  # a check never waits on the room
        assert "The room has not taken" in second.stdout and "nothing to do" in second.stdout
        assert len(ada.outbox.read_text().splitlines()) >= 3  # written to disk, waiting
        room = Room.serve(room.instructor, port=port)
        view = room.wait_for(lambda v: v["room"]["events"] == 4)
        assert {r["learner"]: r["status"] for r in view["learners"]} == {"ada": "passed"}
        # the laptop sleeps: its sender stopped; the checks still go to the outbox, and arrive once it wakes
        senders = ada.sender_pids()
        assert senders
        for pid in senders:
            os.kill(pid, signal.SIGSTOP)
        ada.run("check", "01/two")
        time.sleep(1.0)
        assert room.view()["room"]["events"] == 4
        for pid in senders:
            os.kill(pid, signal.SIGCONT)
        view = room.wait_for(lambda v: v["room"]["events"] == 5)
        stored = [r[0] for r in __import__("sqlite3").connect(room.instructor.home / "data" / "room" / "events.sqlite")
                  .execute("SELECT seq FROM events ORDER BY seq")]
        assert stored == [1, 2, 3, 4, 5]  # each exactly once, in order
    finally:
        room.stop()


@pytest.mark.slow
def test_the_instructors_tui_shows_the_live_room(people) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from textual.widgets import DataTable, Static

    from workshop.room.home import RoomHome
    from workshop.room.watching import LiveRoom
    from workshop.tui.room import RoomApp

    room = Room.serve(people("instructor"))
    try:
        for name in ("ada", "bob"):
            joined(room, people(name))
            people(name).run("check", "01/one")
        room.wait_for(lambda v: v["room"]["events"] == 2)
        os.environ["WORKSHOP_DATA_DIR"] = str(room.instructor.home / "data")
        live = LiveRoom.here(RoomHome.default())

        async def drive() -> tuple[list[str], str]:
            app = RoomApp(None, interval=0.3, live=live)
            async with app.run_test(size=(140, 30)) as pilot:
                for _ in range(100):
                    await pilot.pause(0.1)
                    if app.screen.query_one(DataTable).row_count == 2:
                        break
                table = app.screen.query_one(DataTable)
                names = [str(table.get_cell_at((i, 0))) for i in range(table.row_count)]
                return names, str(app.screen.query_one("#groups", Static).render())

        names, groups = asyncio.run(drive())
        assert sorted(names) == ["ada", "bob"]
        assert "2 learners: sha256 does not match" in groups
    finally:
        room.stop()


@pytest.mark.slow
def test_everything_here_runs_with_only_loopback() -> None:
    """This module again, inside a network namespace that has only loopback: nothing can leave it."""
    if IN_NAMESPACE:
        out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
        assert [line.split(":")[1].strip() for line in out.splitlines()] == ["lo"]
        return
    if not shutil.which("unshare") or subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("no network namespace here (`unshare -n` needs root): the tests above ran on loopback")
    inner = subprocess.run(
        ["unshare", "-n", "sh", "-c", f"ip link set lo up && exec {sys.executable} -m pytest -q -x -p no:cacheprovider "
         f"{Path(__file__).relative_to(ROOT)}"],
        cwd=ROOT, env={**os.environ, "WORKSHOP_TEST_NETNS": "1"}, capture_output=True, text=True, timeout=600)
    assert inner.returncode == 0, inner.stdout[-4000:] + inner.stderr[-2000:]
    assert " passed" in inner.stdout and "skipped" not in inner.stdout


@pytest.mark.slow
def test_a_full_disk_in_the_room_keeps_the_events_in_the_learners_outbox(people) -> None:  # type: ignore[no-untyped-def]
    """The room's database is capped (as a full disk): what it cannot take waits on the learner's machine,
    and arrives, once each, when the room has room again."""
    instructor = people("instructor")
    instructor.extra["WORKSHOP_ROOM_MAX_PAGES"] = "9"
    room = Room.serve(instructor)
    port = int(room.url.rsplit(":", 1)[1])
    ada = people("ada")
    try:
        assert joined(room, ada).returncode == 0
        (ada.home / "ws" / "01-tiny" / "answer.txt").write_text("starter " + "x" * 800)  # long messages fill pages fast
        for _ in range(8):
            ada.run("check", "01")
        deadline = time.monotonic() + 30
        while "disk is full" not in (ada.home / "state" / "room" / "sender.log").read_text() if (
                ada.home / "state" / "room" / "sender.log").exists() else True:
            assert time.monotonic() < deadline, "the sender never heard that the room's disk is full"
            time.sleep(0.2)
        waiting = len(ada.outbox.read_text().splitlines())
        stored = room.view()["room"]["events"]
        assert waiting > 0 and stored < 16
        room.stop()
        instructor.extra["WORKSHOP_ROOM_MAX_PAGES"] = "0"  # the instructor freed space
        room = Room.serve(instructor, port=port)
        room.wait_for(lambda v: v["room"]["events"] == 16)
    finally:
        room.stop()


@pytest.mark.slow
def test_the_room_exports_to_the_gradebook_formats(people) -> None:  # type: ignore[no-untyped-def]
    room = Room.serve(people("instructor"))
    try:
        ada, bob = people("ada"), people("bob")
        for learner in (ada, bob):
            joined(room, learner)
        bob.solve()
        ada.run("check", "01")
        bob.run("check", "01")
        room.wait_for(lambda v: v["room"]["events"] == 4)
    finally:
        room.stop()
    out = room.instructor.run("room", "export", "--csv", "-", "--json", str(room.instructor.home / "grades.json"),
                              "--markdown", str(room.instructor.home / "summary.md"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "learner,source,01-tiny,points,max_points,percent,status,note"
    assert lines[1].startswith("ada,room,0,0,2,0.0,graded") and lines[2].startswith("bob,room,2,2,2,100.0,graded")
    data = json.loads((room.instructor.home / "grades.json").read_text())
    assert [s["learner"] for s in data["submissions"]] == ["ada", "bob"]
    assert "sha256 does not match" in (room.instructor.home / "summary.md").read_text()


@pytest.mark.slow
def test_a_new_room_token_keeps_the_checks_until_the_learner_joins_again(people) -> None:  # type: ignore[no-untyped-def]
    room = Room.serve(people("instructor"))
    port = int(room.url.rsplit(":", 1)[1])
    ada = people("ada")
    try:
        assert joined(room, ada).returncode == 0
        room.stop()
        room = Room.serve(room.instructor, port, "--new-token")  # the old token has expired
        ada.run("check", "01/one")
        second = ada.run("check", "01/one")
        assert "join again" in second.stdout  # the learner is told why the room does not take them
        assert room.view()["room"]["events"] == 0
        assert joined(room, ada).returncode == 0  # the same machine: the same seat, the checks kept
        view = room.wait_for(lambda v: v["room"]["events"] == 2)
        assert [r["learner"] for r in view["learners"]] == ["ada"]
    finally:
        room.stop()


@pytest.mark.slow
def test_a_real_lab_check_reaches_the_room(tmp_path: Path) -> None:
    """The workshop's own lab 01 (a real Go build of the starter): two learners' failing checks, one group."""
    content = ROOT
    instructor = Person("instructor", tmp_path / "instructor", content)
    # prepared learners: the machine's Go modules are theirs (read only: GOPROXY=off), their build cache their own
    modules = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, timeout=60).stdout.strip()
    learners = [Person(n, tmp_path / n, content, {"GOMODCACHE": modules, "GOPROXY": "off"}) for n in ("ada", "bob")]
    room = Room.serve(instructor)
    try:
        for learner in learners:
            done = joined(room, learner)
            assert done.returncode == 0 and "01-first-filter" in done.stdout, done.stdout + done.stderr
            check = learner.run("check", "01/build", timeout=600)
            assert check.returncode == 1, check.stdout + check.stderr  # the starter does not pass
        view = room.wait_for(lambda v: v["room"]["events"] == 2)
        rows = {r["learner"]: r for r in view["learners"]}
        assert rows["ada"]["lab"] == "01-first-filter" and rows["ada"]["step"] == "build"
        assert rows["ada"]["status"] == "failing" and rows["ada"]["message"] == rows["bob"]["message"]
        assert "proxy.golang.org" not in rows["ada"]["message"]  # the starter's own failure, not a missing module
        assert view["groups"][0]["learners"] == ["ada", "bob"] and view["groups"][0]["step"] == "build"
    finally:
        room.stop()
        stop_senders(*learners)


@pytest.mark.slow
def test_checks_still_waiting_after_a_reboot_are_sent_by_the_next_workshop_command(people) -> None:  # type: ignore[no-untyped-def]
    room = Room.serve(people("instructor"))
    port = int(room.url.rsplit(":", 1)[1])
    ada = people("ada")
    try:
        assert joined(room, ada).returncode == 0
        room.kill9()
        ada.run("check", "01/one")
        stop_senders(ada)  # the laptop rebooted: nothing of the workshop runs
        room = Room.serve(room.instructor, port=port)
        time.sleep(1.0)
        assert room.view()["room"]["events"] == 0
        assert ada.run("list").returncode == 0  # any command that opens the learner's workshop
        room.wait_for(lambda v: v["room"]["events"] == 1)
    finally:
        room.stop()
