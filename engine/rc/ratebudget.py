"""The client's share of a RingCentral throttling group: every call in the group draws from it.

RingCentral counts requests per group in a window (X-Rate-Limit-Limit per X-Rate-Limit-Window
seconds) and answers the excess with 429 and Retry-After, 60 s when absent. The budget keeps a
steady run under the limit, so it never meets a 429, and holds the whole group back for the
penalty when one comes anyway.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio

from engine.errors import StoppedError

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
OnWait = Callable[[str, float], None]


def _no_wait(group: str, seconds: float) -> None:
    return None


async def unless_stopped(stop: anyio.Event, work: Callable[..., Awaitable[object]],
                         *args: Any) -> bool:
    """Run ``work(*args)`` unless ``stop`` comes first (then it is cancelled); True when it
    finished."""
    finished, failure = False, None
    async with anyio.create_task_group() as group:
        async def watch() -> None:
            await stop.wait()
            group.cancel_scope.cancel()

        group.start_soon(watch)
        try:
            await work(*args)
            finished = True
        except Exception as exc:  # raised below as itself, not wrapped in an ExceptionGroup
            failure = exc
        group.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return finished


class RateBudget:
    def __init__(self, name: str, requests: int, window: float, clock: Clock, sleep: Sleep,
                 margin: float = 0.25) -> None:
        self.name = name
        self.requests = requests
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._margin = margin
        self._done: deque[float] = deque()
        self._in_flight = 0
        self._blocked_until = 0.0
        self.waited = 0.0
        self.on_wait: OnWait = _no_wait  # told how long a request waits, for progress lines

    def _delay(self, now: float) -> float:
        """Seconds until one more request may start, 0 when it may start now."""
        if now < self._blocked_until:
            return self._blocked_until - now
        while self._done and self._done[0] <= now - self.window:
            self._done.popleft()
        if len(self._done) + self._in_flight < self.requests:
            return 0.0
        if not self._done:
            return self._margin  # every slot is in flight: wait for one to land
        return self._done[0] + self.window - now + self._margin

    def delay(self) -> float:
        """Seconds a request would wait for its slot now (0: it may start now)."""
        return self._delay(self._clock())

    async def acquire(self, stop: anyio.Event | None = None) -> None:
        """Wait for a slot. With ``stop``, a stop set before the slot comes (or while waiting)
        raises StoppedError: the request never starts."""
        while (delay := self._delay(self._clock())) > 0:
            self.waited += delay
            self.on_wait(self.name, delay)
            if stop is None:
                await self._sleep(delay)
            elif not await unless_stopped(stop, self._sleep, delay):
                break
        if stop is not None and stop.is_set():
            raise StoppedError(f"stopped while waiting for the {self.name} rate budget; the "
                               "request was not sent")
        self._in_flight += 1

    def give_back(self) -> None:
        """A slot acquired for a request that did not start: not counted."""
        self._in_flight -= 1

    def release(self, headers: Mapping[str, str]) -> None:
        """Count a finished request at its answer time (later than the server counted it, so
        the budget errs on the safe side) and adopt the limits the server announces."""
        self._in_flight -= 1
        self._done.append(self._clock())
        limit, window = headers.get("X-Rate-Limit-Limit"), headers.get("X-Rate-Limit-Window")
        if limit and limit.isdigit() and int(limit) > 0:
            self.requests = int(limit)
        if window and window.isdigit() and int(window) > 0:
            self.window = float(window)

    def left(self) -> int:
        """Requests that may start now within the window (0 while a 429's penalty lasts):
        what the metrics file calls the budget left."""
        now = self._clock()
        if now < self._blocked_until:
            return 0
        recent = sum(1 for done in self._done if done > now - self.window)
        return max(self.requests - recent - self._in_flight, 0)

    def penalize(self, seconds: float) -> None:
        """A 429: nothing in this group goes out until the penalty is over."""
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)
