"""A real headless Chromium for tests, driven over the DevTools protocol (aiohttp, already installed):
open a page, watch every request it makes, and ask it questions in JavaScript."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

# Quiet flags: with background networking on, Chromium reaches for Google's services at every start.
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--metrics-recording-only", "--remote-debugging-port=0"]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class Page:
    """What a page did: every URL it asked for (HTTP and WebSocket), and answers to JavaScript."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.requests: list[str] = []
        self.failed: list[str] = []
        self._id = 0
        self._answers: dict[int, asyncio.Future[dict[str, Any]]] = {}

    async def listen(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self._answers:
                self._answers.pop(data["id"]).set_result(data)
            elif data.get("method") == "Network.requestWillBeSent":
                self.requests.append(data["params"]["request"]["url"])
            elif data.get("method") == "Network.webSocketCreated":
                self.requests.append(data["params"]["url"])
            elif data.get("method") == "Network.loadingFailed":
                self.failed.append(data["params"].get("errorText", ""))

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._answers[self._id] = answer
        await self.ws.send_str(json.dumps({"id": self._id, "method": method, "params": params}))
        return await asyncio.wait_for(answer, 30)

    async def js(self, expression: str) -> Any:
        reply = await self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        return reply.get("result", {}).get("result", {}).get("value")

    async def until(self, expression: str, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if await self.js(expression):
                return True
            await asyncio.sleep(0.1)
        return False


async def visit(url: str, checks: dict[str, str], wait_for: str, timeout: float = 30) -> tuple[dict[str, Any], Page]:
    """Open ``url`` in a fresh headless Chromium; once ``wait_for`` is true, evaluate each of ``checks``."""
    import aiohttp

    with tempfile.TemporaryDirectory(prefix="workshop-chromium-", ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen([chromium() or "chromium", *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            end = time.monotonic() + 30
            while not port_file.exists() or not port_file.read_text().strip():
                if time.monotonic() > end or proc.poll() is not None:
                    raise RuntimeError("Chromium did not open its DevTools port")
                await asyncio.sleep(0.05)
            port = port_file.read_text().split()[0]
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{port}/json/list") as reply:
                    target = next(t for t in await reply.json() if t.get("type") == "page")
                async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                    page = Page(ws)
                    listening = asyncio.create_task(page.listen())
                    await page.send("Network.enable")
                    await page.send("Page.enable")
                    await page.send("Page.navigate", url=url)
                    ready = await page.until(wait_for, timeout)
                    answers = {name: await page.js(expr) for name, expr in checks.items()}
                    answers["ready"] = ready
                    listening.cancel()
                    return answers, page
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # the browser and its helper processes
            proc.wait(timeout=10)
