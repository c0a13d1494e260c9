"""The live page for the projector, in a real headless Chromium with every host but 127.0.0.1 unreachable:
it shows the room, groups learners failing the same way, and follows a new check without a reload."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.room.people import Person, Room, stop_senders, tiny_content
from tests.tui import browser

NETWORK_OFF = ["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--proxy-server=127.0.0.1:9",
               "--proxy-bypass-list=127.0.0.1"]


@pytest.mark.slow
def test_the_page_shows_the_room_and_follows_it_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if browser.chromium() is None:
        pytest.skip("needs Chromium (`apt-get install chromium`; .ci/run installs it)")
    monkeypatch.setattr(browser, "FLAGS", [*browser.FLAGS, *NETWORK_OFF])
    content = tiny_content(tmp_path / "content")
    people = [Person(n, tmp_path / n, content) for n in ("instructor", "ada", "bob", "cy")]
    room = Room.serve(people[0])
    try:
        for learner in people[1:]:
            learner.run("join", room.url, "--token", room.token, "--name", learner.name, "--prepared")
        for learner in people[1:3]:
            learner.run("check", "01/one")
        room.wait_for(lambda v: v["room"]["events"] == 2)
        key = room.page.rsplit("#", 1)[1]
        url = room.url.replace("http://", f"http://instructor:{quote(room.token)}@") + f"/room/live#{key}"

        def late_check() -> None:  # once the page has shown the first two, the third learner checks
            time.sleep(4)
            people[3].run("check", "01/one")

        threading.Thread(target=late_check, daemon=True).start()
        answers, page = asyncio.run(browser.visit(url, checks={
            "renders": "document.body.dataset.renders",
            "groups": "document.getElementById('groups').innerText",
            "rows": "[...document.querySelectorAll('#learners tbody tr')].map(r => r.dataset.learner).sort().join(',')",
            "summary": "document.getElementById('summary').textContent",
            "grid": "document.querySelectorAll('#grid td.failing-cell').length",
            "problem": "document.getElementById('problem').textContent",
        }, wait_for="document.querySelectorAll('#learners tbody tr td:nth-child(4)').length === 3 && "
                    "[...document.querySelectorAll('#learners tbody tr td:nth-child(4)')].every(td => td.textContent === 'failing')",
            timeout=60))
        assert answers["ready"], answers
        assert len(answers["renders"].split(",")) >= 2, answers  # it rendered again when cy's check arrived: no reload
        assert answers["rows"] == "ada,bob,cy"
        assert "3 learners:" in answers["groups"] and "sha256 does not match" in answers["groups"]
        assert answers["summary"].startswith("3 learners, 3 stuck") and answers["problem"] == ""
        assert answers["grid"] == 3
        assert all(u.startswith("http://127.0.0.1:") or u.startswith("http://instructor:") for u in page.requests), page.requests
        assert any("/room/view.json?after=" in u for u in page.requests)  # it waited for changes, not reloaded
    finally:
        room.stop()
        stop_senders(*people)
