"""How long this process has spent waiting on the tools it wraps (go, Envoy, HTTP to services).

Benchmarks compare a check's time with this: what a shell script doing the same work would spend.
Nested waits count once (an Envoy start polls its admin over HTTP).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_state = threading.local()
_total = [0.0]


@contextmanager
def tool_time() -> Iterator[None]:
    depth = getattr(_state, "depth", 0)
    _state.depth = depth + 1
    start = time.monotonic()
    try:
        yield
    finally:
        _state.depth = depth
        if depth == 0:
            _total[0] += time.monotonic() - start


def spent() -> float:
    return _total[0]


@contextmanager
def overlapped() -> Iterator[None]:
    """Waits in this thread overlap a check's own (an Envoy started ahead of it): not counted twice."""
    depth = getattr(_state, "depth", 0)
    _state.depth = depth + 1
    try:
        yield
    finally:
        _state.depth = depth
