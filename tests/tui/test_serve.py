"""`workshop serve` really serves the app's page to a browser, on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from workshop.env import http


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_on_loopback() -> None:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "workshop", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        page = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and page is None:
            try:
                page = http.request(f"http://127.0.0.1:{port}/", timeout=2)
            except http.NoResponse:
                time.sleep(0.1)
        assert page is not None and page.status == 200
        assert "Wasm workshop" in page.text and "ws" in page.text  # the page opens a websocket to the app
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "workshop", "serve", "--port", str(port)],
                              check=False, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and f"port {port}" in proc.stderr and "--port" in proc.stderr


# ---------------------------------------------------------------- the page in a real browser, network off


@pytest.mark.slow
def test_the_page_loads_everything_from_the_workshop_with_the_network_off(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Headless Chromium, with every host but 127.0.0.1 unreachable, opens the page: the app appears, its
    font is ours, and no request leaves for a third party (textual-serve's own page links Google Fonts)."""
    import asyncio

    from tests.tui import browser

    if browser.chromium() is None:
        pytest.skip("needs Chromium (`apt-get install chromium`; .ci/run installs it)")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "workshop", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    network_off = ["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                   "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=127.0.0.1"]
    browser.FLAGS.extend(network_off)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                http.request(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except http.NoResponse:
                time.sleep(0.1)
        answers, page = asyncio.run(browser.visit(
            f"http://127.0.0.1:{port}/",
            checks={
                "font": "document.fonts.ready.then(() => [...document.fonts].filter("
                        "f => f.family.includes('Roboto Mono') && f.status === 'loaded').length)",
                "links": "[...document.querySelectorAll('link[href], script[src]')].map(e => e.href || e.src)",
            },
            wait_for="document.body.classList.contains('-first-byte')",
        ))
    finally:
        for flag in network_off:
            browser.FLAGS.remove(flag)
        proc.terminate()
        proc.wait(timeout=10)
    assert answers["ready"], f"the app never drew its first frame; requests: {page.requests}"
    elsewhere = [u for u in page.requests + answers["links"]
                 if not u.startswith((f"http://127.0.0.1:{port}/", f"ws://127.0.0.1:{port}/", "data:", "about:"))]
    assert elsewhere == [], f"the page asked for things beyond the workshop: {elsewhere}"
    assert answers["font"] >= 1, "the terminal font did not load from the workshop"
    assert page.failed == [], f"requests failed: {page.failed}"
