from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from engine.config.settings import PollSettings, RateLimitSettings, Settings
from engine.core.policy import Rules
from engine.simulator import RunningSimulator, start_simulator
from tests.conftest import sim_settings

SENDER = "+16505550100"
Start = Callable[..., Awaitable[tuple[RunningSimulator, Settings]]]


def engine_settings(url: str, **changes: Any) -> Settings:
    """Fast, small settings against a simulator on loopback."""
    base = Settings(
        profile="test", source="test", server_url=url, concurrency=3,
        # Enough attempts that a seeded fault rate never exhausts them by chance.
        retry=Rules(max_attempts=20, backoff_initial=0.01, backoff_max=0.05,
                    request_timeout=10.0, reconcile_window=0.3),
        polling=PollSettings(interval=0.02, max_interval=0.1, timeout=30.0),
        rate_limit=RateLimitSettings(light_requests=10_000, auth_requests=1_000,
                                     default_retry_after=0.2),
    )
    return replace(base, **changes)


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """A simulator on a free loopback port (real clock, fast processing) and settings for it."""
    started: list[RunningSimulator] = []

    async def make(*, replacing: RunningSimulator | None = None, **changes: Any
                   ) -> tuple[RunningSimulator, Settings]:
        """``replacing``: stop that simulator and start this one on its port, with a fresh
        store: the same server (URL) a journal records, so a resume is allowed there."""
        changes.setdefault("messages_per_second", 1e6)
        port = 0
        if replacing is not None:
            port = int(replacing.url.rsplit(":", 1)[1])
            started.remove(replacing)
            await replacing.stop()
        running = await start_simulator(sim_settings(**changes), port=port)
        started.append(running)
        return running, engine_settings(running.url)

    yield make
    for running in started:
        await running.stop()


def ledger_numbers(running: RunningSimulator) -> list[str]:
    return [entry[2] for entry in running.simulator.store.ledger()]


class StopAfter:
    """A run's stop, set once ``kind`` events (the first ``chunk_submitted`` by default) have
    come: ``engine.send(..., stop=s.stop, on_event=s.on_event)``."""

    def __init__(self, kind: str = "chunk_submitted", count: int = 1) -> None:
        import anyio

        self.stop = anyio.Event()
        self._kind, self._left = kind, count

    async def on_event(self, event: dict[str, Any]) -> None:
        if event["event"] == self._kind:
            self._left -= 1
            if self._left <= 0:
                self.stop.set()
