"""Fault injection: seeded, reproducible, and each mode visible to a client as it would be."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from engine.simulator import FaultSettings, RunningSimulator
from tests.conftest import SENDER, FakeClock, MakeSimulator, bearer, login
from tests.openapi import A2P

BODY = orjson.dumps({"from": SENDER, "text": "Hi", "messages": [{"to": ["+14155550100"]}]})


async def post_batch(http: aiohttp.ClientSession, running: RunningSimulator,
                     token: dict[str, Any]) -> int:
    url = f"{running.url}{A2P.replace('{accountId}', '~')}/batches"
    headers = {**bearer(token), "Content-Type": "application/json"}
    async with http.post(url, data=BODY, headers=headers) as response:
        return response.status


async def test_server_errors_at_a_rate_are_reproducible(make_simulator: MakeSimulator,
                                                        http: aiohttp.ClientSession) -> None:
    """The same seed gives the same sequence of 5xx answers."""
    faults = FaultSettings(seed=7, error_rate=0.5, error_statuses=(500, 502, 503))
    runs = []
    for _ in range(2):
        running = await make_simulator(faults=faults)
        token = await login(http, running.url)
        runs.append([await post_batch(http, running, token) for _ in range(12)])
    assert runs[0] == runs[1]
    assert {500, 502, 503} & set(runs[0])
    assert 201 in runs[0]


async def test_reset_drops_the_connection_before_anything_is_created(
    make_simulator: MakeSimulator, http: aiohttp.ClientSession
) -> None:
    """A reset reaches the client as a disconnect and creates no batch."""
    running = await make_simulator(faults=FaultSettings(reset_rate=1.0, scope="send"))
    token = await login(http, running.url)
    with pytest.raises(aiohttp.ClientConnectionError):
        await post_batch(http, running, token)
    assert running.simulator.store.accepted_count() == 0


async def test_accept_then_drop_creates_the_batch_but_no_answer(
    make_simulator: MakeSimulator, http: aiohttp.ClientSession
) -> None:
    """Accept-then-drop: the ledger has the message, the client only sees a disconnect."""
    running = await make_simulator(faults=FaultSettings(accept_drop_rate=1.0))
    token = await login(http, running.url)
    with pytest.raises(aiohttp.ClientConnectionError):
        await post_batch(http, running, token)
    assert [e[2] for e in running.simulator.store.ledger()] == ["+14155550100"]


async def test_burst_of_429s_then_service_resumes(make_simulator: MakeSimulator,
                                                  http: aiohttp.ClientSession) -> None:
    """A burst answers burst_length requests with 429 and Retry-After, then serves again."""
    faults = FaultSettings(burst_rate=1.0, burst_length=2, burst_retry_after=1, scope="send")
    running = await make_simulator(faults=faults)
    token = await login(http, running.url)
    statuses = [await post_batch(http, running, token) for _ in range(2)]
    assert statuses == [429, 429]
    running.simulator.set_faults(FaultSettings())
    assert await post_batch(http, running, token) == 201


async def test_latency_is_added_through_the_sleep_seam(make_simulator: MakeSimulator,
                                                       http: aiohttp.ClientSession) -> None:
    """Each in-scope request waits latency plus jitter before it is served."""
    running = await make_simulator(faults=FaultSettings(latency=0.25, latency_jitter=0.0))
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    running.simulator.sleep = record
    token = await login(http, running.url)
    assert await post_batch(http, running, token) == 201
    assert waits == [0.25]


async def test_early_expiry_kills_a_token_before_its_ttl(
    make_simulator: MakeSimulator, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """A token issued under early expiry promises the full TTL but dies after a second."""
    running = await make_simulator(faults=FaultSettings(early_expiry_rate=1.0, early_expiry=1.0))
    token = await login(http, running.url)
    assert token["expires_in"] == 3600
    clock.advance(2)
    url = f"{running.url}{A2P.replace('{accountId}', '~')}/batches"
    async with http.get(url, headers=bearer(token)) as response:
        assert response.status == 401
        assert (await response.json())["errorCode"] == "OAU-128"


async def test_faults_can_be_changed_over_http(simulator: RunningSimulator,
                                               http: aiohttp.ClientSession) -> None:
    """PUT /_sim/faults switches fault modes for a simulator in another process."""
    async with http.put(f"{simulator.url}/_sim/faults", json={"error_rate": 1.0}) as response:
        assert response.status == 200
    token = await login(http, simulator.url)
    assert await post_batch(http, simulator, token) >= 500
    async with http.put(f"{simulator.url}/_sim/faults", json={"error_rate": 2}) as response:
        assert response.status == 400
        assert "error_rate" in (await response.json())["message"]
