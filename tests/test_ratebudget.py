"""The rate budget: a stop ends a wait for a slot, and nothing waiting starts after it."""

from __future__ import annotations

import anyio
import pytest

from engine.errors import StoppedError
from engine.rc.ratebudget import RateBudget


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_stop_during_the_wait_means_the_request_never_starts() -> None:
    """A request waiting for the budget raises StoppedError as soon as the stop comes, and is
    not counted as in flight; without a stop it would have waited out the window."""
    clock = Clock()
    waits: list[tuple[str, float]] = []
    budget = RateBudget("Light", 1, 60.0, clock, anyio.sleep)
    budget.on_wait = lambda group, seconds: waits.append((group, seconds))
    await budget.acquire()
    budget.release({})
    stop = anyio.Event()
    outcome: list[str] = []

    async def wanting() -> None:
        try:
            await budget.acquire(stop)
        except StoppedError:
            outcome.append("stopped")

    async with anyio.create_task_group() as group:
        group.start_soon(wanting)
        await anyio.wait_all_tasks_blocked()
        stop.set()
    assert outcome == ["stopped"]
    assert waits == [("Light", 60.25)]  # told once: the window and its 0.25 s margin
    assert budget._in_flight == 0


async def test_a_stop_already_set_refuses_even_a_free_slot() -> None:
    """Once stopped, a request that creates a batch does not start, budget or not."""
    budget = RateBudget("Light", 10, 60.0, Clock(), anyio.sleep)
    stop = anyio.Event()
    stop.set()
    with pytest.raises(StoppedError, match="not sent"):
        await budget.acquire(stop)
    await budget.acquire()  # a request that creates nothing (a poll) still goes


async def test_a_full_window_waits_on_the_fake_clock_until_the_oldest_request_leaves() -> None:
    """Two requests a minute: the third waits until the first is a window old (plus the
    margin), adopting the limits the server announces; a 429 holds the group back."""
    from tests.fakes import FakeClock

    clock = FakeClock(0.0)
    budget = RateBudget("Light", 2, 60.0, clock, clock.sleep)
    for _ in range(2):
        await budget.acquire()
        budget.release({})
        clock.advance(1.0)
    await budget.acquire()
    assert clock.slept == [pytest.approx(58.25)]
    budget.release({"X-Rate-Limit-Limit": "40", "X-Rate-Limit-Window": "60"})
    assert budget.requests == 40
    budget.penalize(30.0)
    await budget.acquire()
    assert clock.slept[-1] == pytest.approx(30.0)
