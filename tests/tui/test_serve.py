"""`workshop serve` really serves the app's page to a browser, on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

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
