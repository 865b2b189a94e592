"""The backend's late work lives as long as the simulator: stopping it cancels what is due."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from engine.simulator import FaultSettings, start_simulator
from engine.simulator.backlog import Backlog
from tests.conftest import FakeClock, login, sim_settings
from tests.simulator.test_faults import post_batch


async def test_stopping_the_simulator_cancels_a_late_creation_and_waits_for_it(
    http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """A batch still due to be created late is never created once the simulator has stopped,
    and stop() returns only after that job has ended (no task outlives the simulator)."""
    faults = FaultSettings(late_create_rate=1.0, late_create_delay=30.0, scope="send")
    running = await start_simulator(sim_settings(faults=faults), clock=clock)
    started = asyncio.Event()
    cancelled: list[float] = []

    async def held(seconds: float) -> None:  # the backend's wait, ended only by a cancel
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(seconds)
            raise

    running.simulator.sleep = held
    try:
        token = await login(http, running.url)
        assert await post_batch(http, running, token) == 504
        await asyncio.wait_for(started.wait(), timeout=10)
    finally:
        await running.stop()
    assert cancelled == [30.0]
    assert running.simulator.store.accepted_count() == 0


async def test_a_late_job_that_fails_is_raised_when_the_backlog_stops() -> None:
    """A backend job's error is not lost in a forgotten task: leaving the backlog raises it,
    and no job can be handed over after."""
    backlog = Backlog()
    ran = asyncio.Event()

    async def broken() -> None:
        ran.set()
        raise ValueError("the store broke")

    async def serve_one_broken_job() -> None:
        async with backlog.serving():
            backlog.start(broken)
            await ran.wait()

    with pytest.raises(RuntimeError, match="backlog failed") as raised:
        await serve_one_broken_job()
    assert isinstance(raised.value.__cause__, ExceptionGroup)
    assert raised.value.__cause__.subgroup(ValueError) is not None
    with pytest.raises(RuntimeError, match="not running"):
        backlog.start(broken)
