"""An Envoy started as soon as the module it will run is built, so that its start (V8 compiling the
module: nearly all of it, about 2 s for a Go module) overlaps the checks that run in between (the
module's inspection, `go test`), on the machine's other core, instead of following them.

A check marked ``early_envoy`` runs the lab's module with ``envoy.run_filter(module)`` and nothing
else; when an earlier check of the same run builds that module, the Envoy it will ask for (the very
same configuration) starts at once. The check takes it only if it is the same configuration, the
module's bytes are still those Envoy read (their digest, never a time) and Envoy runs; when that
Envoy would not start, the check says so with its words (the same Envoy on the same bytes: its own
start would say the same, later); otherwise it starts its own, as without this. A verdict and its
words never depend on it.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from workshop.checking.feedback import CheckTimeout
from workshop.core import wasm as wasmlib
from workshop.env import clock
from workshop.env import envoy as envoylib

MARKER = "early_envoy"
START_TIMEOUT = 60.0


@dataclass
class Early:
    wasm: Path
    digest: str  # of the module's bytes when Envoy was started on it
    workdir: Path
    started: Future[envoylib.Envoy]


@dataclass
class Taken:
    """What a check gets: the running Envoy, or why it would not start (its error and its log), or nothing."""

    proxy: envoylib.Envoy | None = None
    error: str = ""
    log: str = ""


_early: dict[str, Early] = {}  # the configuration (as JSON) -> the Envoy starting on it
_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="early-envoy")


def key(config: dict) -> str:
    return json.dumps(config, sort_keys=True)


def filter_config(wasm: Path) -> dict:
    """What ``envoy.run_filter(wasm)`` starts Envoy on (its defaults: no plugin configuration, no upstream)."""
    return envoylib.bootstrap([envoylib.wasm_filter("workshop", wasm)])


def wanted_later(item: pytest.Item) -> bool:
    """Whether a check after ``item`` in this run is marked to take an early Envoy."""
    items = item.session.items
    later = items[items.index(item) + 1:] if item in items else []
    return any(i.get_closest_marker(MARKER) is not None for i in later)


def start(wasm: Path, workdir: Path) -> None:
    """Start Envoy on the module just built, in the background (once per configuration and digest)."""
    try:
        wasmlib.check_magic(wasm)  # not a module: the check that runs it says so itself
    except (OSError, wasmlib.NotAModule):
        return
    config = filter_config(wasm)
    digest = wasmlib.digest_of(wasm)
    known = _early.get(key(config))
    if known is not None:
        if known.digest == digest:
            return
        _discard(known)
    _early[key(config)] = Early(wasm, digest, workdir, _pool.submit(_start, config, workdir))


def _start(config: dict, workdir: Path) -> envoylib.Envoy:
    with clock.overlapped():
        return envoylib.start(config, workdir=workdir, timeout=START_TIMEOUT)


def take(config: dict, wait: float) -> Taken:
    """The Envoy started early on ``config`` (or why it would not start), if its module's bytes have not
    changed since; an empty Taken when there is none to take (the check starts its own)."""
    early = _early.pop(key(config), None)
    if early is None:
        return Taken()
    try:
        with clock.tool_time():
            proxy = early.started.result(timeout=max(0.1, wait))
    except CheckTimeout:
        _discard(early)
        raise
    except envoylib.EnvoyError as exc:  # it would not start on these bytes
        if wasmlib.digest_of(early.wasm) != early.digest:
            return Taken()
        log = early.workdir / "envoy.log"
        return Taken(error=str(exc), log=(log.read_text(errors="replace") if log.exists() else "") or str(exc))
    except Exception:  # not started in the time left, or not at all: the check starts its own
        _discard(early)
        return Taken()
    if wasmlib.digest_of(early.wasm) != early.digest or not proxy.alive():
        proxy.stop()
        return Taken()
    return Taken(proxy=proxy)


def _discard(early: Early) -> None:
    early.started.add_done_callback(lambda f: f.exception() is None and f.result().stop())


def stop_unused() -> None:
    """Stop the Envoys no check took (the run ends)."""
    while _early:
        _discard(_early.popitem()[1])
