"""The Services panel against the real services (go-httpbin, Envoy) on free ports; nothing is left running."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from textual.widgets import Button, RichLog, Static

from tests.tui.conftest import make_app, wait_for
from workshop.env import http, services
from workshop.runs.session import Session
from workshop.tui.widgets.services.service_row import ServiceRow
from workshop.tui.widgets.services.services_panel import ServicesPanel

SIZE = (100, 32)


def _installed(*names: str) -> bool:
    try:
        for name in names:
            services.SERVICES[name].binary()
    except services.ServiceError:
        return False
    return True


pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not _installed("httpbin", "envoy"), reason="needs go-httpbin and Envoy (`workshop prepare`)")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def service_ports(tui_isolated: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Every service on a free port (never the learner's defaults), all stopped again afterwards."""
    ports: dict[str, int] = {}
    while len(set(ports.values())) < 4:
        ports = {name: _free_port() for name in ("httpbin", "registry", "envoy", "envoy_admin")}
    for name, port in ports.items():
        monkeypatch.setenv(f"WORKSHOP_PORT_{name.upper()}", str(port))
    monkeypatch.delenv("WORKSHOP_BACKEND", raising=False)
    try:
        yield ports
    finally:
        services.down()
    assert services.status() == [], "a test left a service running"


def panel(app: object) -> ServicesPanel:
    return app.screen.query_one(ServicesPanel)  # type: ignore[attr-defined]


def row(app: object, name: str) -> ServiceRow:
    return app.screen.query_one(f"#service-{name}", ServiceRow)  # type: ignore[attr-defined]


async def press_button(pilot: object, button: Button) -> None:
    """Keyboard only: focus the button (the panel scrolls to it) and press Enter."""
    button.focus()
    await pilot.press("enter")  # type: ignore[attr-defined]


async def open_services(app: object, pilot: object) -> ServicesPanel:
    await pilot.press("e")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: bool(app.screen.query(ServicesPanel)), timeout=10)  # type: ignore[attr-defined]
    return panel(app)


def answers(url: str) -> bool:
    try:
        return http.request(url, timeout=2.0).status == 200
    except http.NoResponse:
        return False


async def test_start_read_the_log_quit_and_it_keeps_serving_then_stop(started: Session, service_ports: dict[str, int]) -> None:
    app = make_app(started)
    async with app.run_test(size=SIZE) as pilot:
        shown = await open_services(app, pilot)
        httpbin = row(app, "httpbin")
        await wait_for(pilot, lambda: "down" in str(httpbin.query_one(".what", Static).content))
        assert "keep running after you quit" in str(shown.query_one("#keeps", Static).content)
        await press_button(pilot, httpbin.query_one(".toggle", Button))
        await wait_for(pilot, lambda: httpbin.info is not None, timeout=40)
        assert httpbin.info is not None and httpbin.info.port == service_ports["httpbin"]
        assert answers(f"{httpbin.info.url}/get")
        details = str(httpbin.query_one(".details", Static).content)
        assert httpbin.info.url in details and "runs until `workshop env down`" in details
        assert any("httpbin is up" in n.message or "Up: httpbin" in n.message for n in app._notifications)
        await press_button(pilot, httpbin.query_one(".log", Button))
        await wait_for(pilot, lambda: "listening" in shown.log_shown, timeout=10)
        assert "httpbin: last 50 log lines" in str(shown.query_one("#log-title", Static).content)
        assert shown.query_one(RichLog).lines  # drawn, not only kept
        await pilot.press("q")
    [still] = services.status()  # started detached, like `workshop env up`: the app's exit leaves it serving
    assert still.name == "httpbin" and still.detached and answers(f"{still.url}/get")

    app = make_app(started)  # a later session sees it and stops it
    async with app.run_test(size=SIZE) as pilot:
        await open_services(app, pilot)
        httpbin = row(app, "httpbin")
        await wait_for(pilot, lambda: httpbin.info is not None, timeout=10)
        assert "Stop" in str(httpbin.query_one(".toggle", Button).label)
        await press_button(pilot, httpbin.query_one(".toggle", Button))
        await wait_for(pilot, lambda: httpbin.info is None and not panel(app).busy, timeout=20)
    assert services.status() == []
    assert not answers(f"http://127.0.0.1:{service_ports['httpbin']}/get")


async def test_the_labs_services_start_and_stop_together(tiny_session: Session, service_ports: dict[str, int]) -> None:
    hang = tiny_session.workshop.labs[1]  # declares `services: [envoy]`
    tiny_session.goto(hang, hang.steps[0])
    app = make_app(tiny_session)
    async with app.run_test(size=SIZE) as pilot:
        shown = await open_services(app, pilot)
        needs = shown.query_one("#lab-needs", Static)
        await wait_for(pilot, lambda: "Lab 02 needs: envoy ○ down" in str(needs.content))
        await press_button(pilot, shown.query_one("#start-lab", Button))
        await wait_for(pilot, lambda: "envoy ● up" in str(needs.content), timeout=60)
        envoy = row(app, "envoy").info
        assert envoy is not None and envoy.port == service_ports["envoy"]
        assert row(app, "httpbin").info is not None  # what Envoy routes to came up with it
        assert answers(f"{envoy.url}/get")  # through the real Envoy to the real go-httpbin
        assert "admin http://127.0.0.1:" in str(row(app, "envoy").query_one(".details", Static).content)
        await press_button(pilot, shown.query_one("#stop-lab", Button))
        await wait_for(pilot, lambda: "envoy ○ down" in str(needs.content) and not shown.busy, timeout=30)
        assert [i.name for i in services.status()] == ["httpbin"]  # only what the lab names is stopped


async def test_a_taken_port_is_a_notice_with_the_fix(started: Session, service_ports: dict[str, int]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", service_ports["httpbin"]))
        taken.listen()
        app = make_app(started)
        async with app.run_test(size=SIZE) as pilot:
            shown = await open_services(app, pilot)
            await press_button(pilot, row(app, "httpbin").query_one(".toggle", Button))
            await wait_for(pilot, lambda: not shown.busy, timeout=20)
            [notice] = [n.message for n in app._notifications if n.severity == "error"]
            assert f"port {service_ports['httpbin']}" in notice and "WORKSHOP_PORT_HTTPBIN" in notice
            assert "Traceback" not in notice
            assert "Could not do that" in str(shown.query_one("#activity", Static).content)
            await pilot.press("n")  # the app is alive and answers keys
            assert app.screen.step.id == "note"  # type: ignore[attr-defined]
    assert services.status() == []


async def test_cleanup_is_installed_from_the_main_thread(started: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []
    monkeypatch.setattr(services, "install_cleanup", lambda: threads.append(threading.current_thread()))
    app = make_app(started)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(threads), timeout=10)
    assert threads == [threading.main_thread()]
