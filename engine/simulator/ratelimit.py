"""Server-side throttling per group, as RingCentral describes it: a sliding window of
``requests`` per ``window`` seconds; the request over the limit starts a penalty during which
every request gets 429, and each such request extends the penalty."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from engine.simulator.settings import GroupLimit


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    remaining: int
    retry_after: int


class SlidingWindow:
    def __init__(self, name: str, limit: GroupLimit) -> None:
        self.name = name
        self.limit = limit
        self._hits: deque[float] = deque()
        self._penalty_until = 0.0

    def hit(self, now: float) -> Verdict:
        if now < self._penalty_until:
            self._penalty_until = now + self.limit.penalty
            return Verdict(False, 0, self._retry_after(now))
        horizon = now - self.limit.window
        while self._hits and self._hits[0] <= horizon:
            self._hits.popleft()
        if len(self._hits) >= self.limit.requests:
            self._penalty_until = now + self.limit.penalty
            return Verdict(False, 0, self._retry_after(now))
        self._hits.append(now)
        return Verdict(True, self.limit.requests - len(self._hits), 0)

    def _retry_after(self, now: float) -> int:
        return max(1, math.ceil(self._penalty_until - now))

    def headers(self, verdict: Verdict) -> dict[str, str]:
        return {
            "X-Rate-Limit-Group": self.name,
            "X-Rate-Limit-Limit": str(self.limit.requests),
            "X-Rate-Limit-Remaining": str(verdict.remaining),
            "X-Rate-Limit-Window": str(math.ceil(self.limit.window)),
        }
