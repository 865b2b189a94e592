"""What one running simulator holds: its settings and faults, the account's store, the
throttling windows, the seeded random source every fault draws from, and the counters tests
read. Handlers reach it through ``request.app[SIMULATOR]``."""

from __future__ import annotations

import asyncio
import random
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from engine.schedule.rules import QuietHours, parse_quiet_hours
from engine.simulator.audit import DEFAULT_LIMIT, Audit, audit
from engine.simulator.backlog import Backlog
from engine.simulator.consents import ConsentStore
from engine.simulator.ratelimit import SlidingWindow
from engine.simulator.settings import FaultSettings, SimulatorSettings
from engine.simulator.store import Batch, Store


@dataclass
class Simulator:
    """Everything one running simulator holds; tests reach it through ``app[SIMULATOR]``."""

    settings: SimulatorSettings
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    store: Store = field(init=False)
    faults: FaultSettings = field(init=False)
    stats: Counter[str] = field(default_factory=Counter)
    backlog: Backlog = field(default_factory=Backlog)
    last_answer: bytes | None = None  # the last 201 given whole (replayed_answer_rate)
    # store_lag: per (batch, lag), message indexes by when they appear, and those times
    _store_order: dict[tuple[str, float], tuple[list[int], list[float]]] = field(
        default_factory=dict)

    def __post_init__(self) -> None:
        # Seeded consent records are dated up to a year before the simulator starts.
        self.store = Store(self.settings, ConsentStore.seeded(self.settings, self.clock()))
        self.light = SlidingWindow("Light", self.settings.light)
        self.auth = SlidingWindow("Auth", self.settings.auth)
        self.set_faults(self.settings.faults)

    def set_faults(self, faults: FaultSettings) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self.burst_left = 0
        self.token_errors_left = faults.token_error_count
        self.token_uses: Counter[str] = Counter()
        self.faults_set_at = self.clock()

    def in_outage(self) -> bool:
        """The outage fault is on and has not healed yet."""
        faults = self.faults
        return faults.outage_status > 0 and (
            faults.outage_for <= 0 or self.clock() - self.faults_set_at < faults.outage_for)

    def chance(self, rate: float) -> bool:
        """A seeded draw that comes true with ``rate``; a fault that is off draws nothing, so
        turning one mode on leaves the draws of the others as they were."""
        return rate > 0 and self.rng.random() < rate

    def now(self) -> float:
        """The server's clock: the injected one, off by the configured skew."""
        return self.clock() + self.faults.clock_skew

    def audit(self, quiet_hours: QuietHours | str = "strict", daily_cap: int | None = None,
              limit: int = DEFAULT_LIMIT) -> Audit:
        """Every message processed so far judged against a quiet-hours policy (as
        ``--quiet-hours`` takes it) and a daily cap (engine/simulator/audit.py)."""
        policy = parse_quiet_hours(quiet_hours) if isinstance(quiet_hours, str) else quiet_hours
        return audit(self.store, self.now(), policy, daily_cap=daily_cap, limit=limit)

    def later(self, delay: float, action: Callable[[], None]) -> None:
        """Do ``action`` after ``delay`` seconds, as a backend that outlives its answer."""
        async def run() -> None:
            await self.sleep(delay)
            action()

        self.backlog.start(run)

    def listed(self, batch: Batch, now: float) -> bool:
        return now - batch.created >= self.faults.listing_lag

    def in_store(self, batch: Batch, now: float) -> list[int]:
        """With store_lag: the batch's messages the store lists by ``now``, in the order they
        appeared there (so a later page never shifts an earlier one)."""
        lag = self.faults.store_lag
        key = (batch.id, lag)
        known = self._store_order.get(key)
        if known is None:
            rng = random.Random(f"{self.faults.seed}:{batch.id}")
            appear = [(i + 1) / batch.rate + lag * rng.random() for i in range(batch.size)]
            order = sorted(range(batch.size), key=appear.__getitem__)
            known = self._store_order[key] = (order, [appear[i] for i in order])
        indexes, times = known
        return indexes[:bisect_right(times, now - batch.created)]


SIMULATOR = web.AppKey("simulator", Simulator)
