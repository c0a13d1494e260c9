"""An Envoy started as soon as the module it will run is built, so that its start (V8 compiling the
module: nearly all of it, about 2 s for a Go module) overlaps the checks that run in between (the
module's inspection, `go test`), on the machine's other core, instead of following them.

A check marked ``early_envoy`` runs the lab's module with ``envoy.run_filter(module)`` and nothing
else; when an earlier check of the same run builds that module, the Envoy it will ask for (the very
same configuration) starts at once. The check takes it only if it is the same configuration, the
module's bytes are still those Envoy read (their digest, never a time) and Envoy runs; otherwise it
starts its own, as without this, so a verdict and its words never depend on it.
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
    started: Future[envoylib.Envoy]


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
    _early[key(config)] = Early(wasm, digest, _pool.submit(_start, config, workdir))


def _start(config: dict, workdir: Path) -> envoylib.Envoy:
    with clock.overlapped():
        return envoylib.start(config, workdir=workdir, timeout=START_TIMEOUT)


def take(config: dict, wait: float) -> envoylib.Envoy | None:
    """The Envoy started early on ``config``, if its module's bytes have not changed since and it runs."""
    early = _early.pop(key(config), None)
    if early is None:
        return None
    try:
        with clock.tool_time():
            proxy = early.started.result(timeout=max(0.1, wait))
    except CheckTimeout:
        _discard(early)
        raise
    except Exception:  # it would not start (or not in time): the check starts its own and says why
        _discard(early)
        return None
    if wasmlib.digest_of(early.wasm) != early.digest or not proxy.alive():
        proxy.stop()
        return None
    return proxy


def _discard(early: Early) -> None:
    early.started.add_done_callback(lambda f: f.exception() is None and f.result().stop())


def stop_unused() -> None:
    """Stop the Envoys no check took (the run ends)."""
    while _early:
        _discard(_early.popitem()[1])
