from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from engine.config.credentials import DEMO_CREDENTIALS
from engine.rc import basicauth
from engine.simulator import GroupLimit, RunningSimulator, SimulatorSettings, start_simulator

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SENDER = "+16505550100"


class FakeClock:
    """A clock the test moves by hand: the simulator never reads wall time in these tests."""

    def __init__(self, now: float = 1_790_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def sim_settings(**changes: Any) -> SimulatorSettings:
    """Simulator settings for tests: generous rate limits unless a test asks otherwise."""
    base = SimulatorSettings(
        credentials=DEMO_CREDENTIALS,
        senders=(SENDER, "+16505550101"),
        light=GroupLimit(10_000, 60.0, 60.0),
        auth=GroupLimit(1_000, 60.0, 60.0),
        messages_per_second=100.0,
    )
    return replace(base, **changes)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


MakeSimulator = Callable[..., Awaitable[RunningSimulator]]


@pytest.fixture
async def make_simulator(clock: FakeClock) -> AsyncIterator[MakeSimulator]:
    """Start simulators on free loopback ports; every one is stopped after the test."""
    started: list[RunningSimulator] = []

    async def make(**changes: Any) -> RunningSimulator:
        running = await start_simulator(sim_settings(**changes), clock=clock)
        started.append(running)
        return running

    yield make
    for running in started:
        await running.stop()


@pytest.fixture
async def simulator(make_simulator: MakeSimulator) -> RunningSimulator:
    return await make_simulator()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def login(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    auth = basicauth.encode(DEMO_CREDENTIALS.client_id, DEMO_CREDENTIALS.client_secret)
    data = {"grant_type": JWT_GRANT, "assertion": DEMO_CREDENTIALS.jwt}
    headers = {"Authorization": auth}
    async with http.post(f"{url}/restapi/oauth/token", data=data, headers=headers) as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body


def bearer(token: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['access_token']}"}
