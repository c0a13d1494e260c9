"""The one way the workshop waits for something: look again and again until it is so, or time runs out.

Readiness of a program, a resource reaching Envoy, a log line, a request through a proxy: every wait is
``until``. What was last seen comes back either way, so a failure can say what it saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Waited(Generic[T]):
    """How a wait ended: ``ready``, or not (``ended`` says why when something stopped it early; None: time ran out).
    ``seen`` is the last thing looked at (None when every look raised one of ``not_yet``)."""

    ready: bool
    seen: T | None = None
    ended: str | None = None


def _truthy(value: object) -> bool:
    return bool(value)


def until(
    look: Callable[[], T], done: Callable[[T], bool] = _truthy, *, timeout: float, every: float = 0.05,
    ended: Callable[[], str | None] | None = None, not_yet: tuple[type[BaseException], ...] = (),
) -> Waited[T]:
    """Call ``look()`` every ``every`` seconds until ``done(what it returned)``, ``ended()`` gives a reason to
    stop (the program ended, the answer will not change), or ``timeout`` seconds pass. ``look()`` raising
    one of ``not_yet`` (nothing answers yet) counts as not done. Looks at least once."""
    deadline = time.monotonic() + timeout
    seen: T | None = None
    while True:
        why = ended() if ended is not None else None
        if why:
            return Waited(ready=False, seen=seen, ended=why)
        try:
            seen = look()
        except not_yet:
            pass
        else:
            if done(seen):
                return Waited(ready=True, seen=seen)
        if time.monotonic() >= deadline:
            return Waited(ready=False, seen=seen)
        time.sleep(every)
