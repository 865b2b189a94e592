"""Waiting for a state in a test: a condition checked until it holds or a deadline passes,
never a bare sleep that hopes the state came. The deadline is generous (a busy CI machine),
and a miss fails the test naming what never happened."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import anyio

T = TypeVar("T")
EVERY = 0.01  # seconds between checks: short against any state a test waits for


def _missed(what: str, limit: float) -> AssertionError:
    return AssertionError(f"waited {limit:g} s for {what}; it never happened")


async def until(condition: Callable[[], T | None], what: str, limit: float = 30.0) -> T:
    """The condition's first truthy value, checked every EVERY seconds in an async test."""
    try:
        with anyio.fail_after(limit):
            # ASYNC110 asks for an Event; the states waited for (simulator counters, a file,
            # another process's lock) have none
            while not (found := condition()):  # noqa: ASYNC110
                await anyio.sleep(EVERY)
    except TimeoutError:
        raise _missed(what, limit) from None
    return found


def until_sync(condition: Callable[[], T | None], what: str, limit: float = 30.0) -> T:
    """The same for a test without an event loop (subprocesses, threads)."""
    deadline = time.monotonic() + limit
    while not (found := condition()):
        if time.monotonic() > deadline:
            raise _missed(what, limit)
        time.sleep(EVERY)
    return found
