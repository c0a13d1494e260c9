"""The workshop's one wait: what it returns when the thing comes, when it never does, and when it is stopped."""

from __future__ import annotations

import itertools
import time

from workshop.core import waiting


def test_returns_what_it_saw_once_done() -> None:
    counter = itertools.count()
    waited = waiting.until(lambda: next(counter), lambda n: n >= 3, timeout=5, every=0.001)
    assert waited.ready and waited.seen == 3 and waited.ended is None


def test_time_running_out_keeps_the_last_look() -> None:
    began = time.monotonic()
    waited = waiting.until(lambda: "not yet", lambda s: s == "now", timeout=0.1, every=0.01)
    assert not waited.ready and waited.seen == "not yet" and waited.ended is None
    assert 0.1 <= time.monotonic() - began < 2


def test_a_look_that_raises_not_yet_counts_as_not_done() -> None:
    tries = iter([ConnectionError(), ConnectionError(), "up"])

    def look() -> str:
        item = next(tries)
        if isinstance(item, Exception):
            raise item
        return item

    waited = waiting.until(look, timeout=5, every=0.001, not_yet=(ConnectionError,))
    assert waited.ready and waited.seen == "up"


def test_other_errors_are_not_swallowed() -> None:
    def look() -> bool:
        raise ValueError("broken")

    try:
        waiting.until(look, timeout=1, not_yet=(ConnectionError,))
    except ValueError:
        return
    raise AssertionError("a ValueError must reach the caller")


def test_ended_stops_the_wait_early_with_its_reason() -> None:
    began = time.monotonic()
    waited = waiting.until(lambda: False, timeout=30, every=0.01, ended=lambda: "exited with code 1")
    assert not waited.ready and waited.ended == "exited with code 1"
    assert time.monotonic() - began < 1


def test_looks_at_least_once_even_with_no_time() -> None:
    waited = waiting.until(lambda: True, timeout=0)
    assert waited.ready
