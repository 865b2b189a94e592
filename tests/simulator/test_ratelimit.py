"""Throttling: the pure sliding window, and the headers and 429s the simulator sends."""

from __future__ import annotations

import aiohttp

from engine.simulator import GroupLimit
from engine.simulator.ratelimit import SlidingWindow
from tests.conftest import FakeClock, MakeSimulator, bearer, login
from tests.openapi import A2P


def test_window_allows_limit_then_penalises() -> None:
    """Within a window, the request over the limit starts a penalty of the configured length."""
    window = SlidingWindow("Light", GroupLimit(3, 60.0, 60.0))
    verdicts = [window.hit(t) for t in (0.0, 1.0, 2.0, 3.0)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert [v.remaining for v in verdicts[:3]] == [2, 1, 0]
    assert verdicts[3].retry_after == 60


def test_requests_during_penalty_extend_it() -> None:
    """Hammering during the penalty pushes its end out; waiting it out clears it."""
    window = SlidingWindow("Light", GroupLimit(1, 10.0, 30.0))
    assert window.hit(0.0).allowed
    assert not window.hit(1.0).allowed          # penalty until 31
    late = window.hit(20.0)                     # extends to 50
    assert (late.allowed, late.retry_after) == (False, 30)
    assert window.hit(49.0).retry_after == 30   # extends again
    assert window.hit(79.5).allowed


def test_window_slides() -> None:
    """Old hits leave the window, so a steady pace under the limit never meets a 429."""
    window = SlidingWindow("Light", GroupLimit(2, 10.0, 60.0))
    assert all(window.hit(t * 5.5).allowed for t in range(20))


async def test_every_response_has_rate_headers_and_excess_gets_429(
    make_simulator: MakeSimulator, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """Headers report group, limit, remaining and window; the excess gets 429 CMN-301."""
    running = await make_simulator(light=GroupLimit(3, 60.0, 60.0))
    token = await login(http, running.url)
    url = f"{running.url}{A2P.replace('{accountId}', '~')}/batches"
    remaining = []
    for _ in range(3):
        async with http.get(url, headers=bearer(token)) as response:
            assert response.headers["X-Rate-Limit-Group"] == "Light"
            assert response.headers["X-Rate-Limit-Limit"] == "3"
            assert response.headers["X-Rate-Limit-Window"] == "60"
            remaining.append(response.headers["X-Rate-Limit-Remaining"])
    assert remaining == ["2", "1", "0"]
    async with http.get(url, headers=bearer(token)) as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "60"
        assert (await response.json())["errorCode"] == "CMN-301"
    clock.advance(61)
    async with http.get(url, headers=bearer(token)) as response:
        assert response.status == 200


async def test_auth_group_is_separate(make_simulator: MakeSimulator,
                                      http: aiohttp.ClientSession) -> None:
    """OAuth calls count against Auth, not Light; the sixth login in a minute gets 429."""
    running = await make_simulator(auth=GroupLimit(5, 60.0, 60.0))
    for _ in range(5):
        await login(http, running.url)
    data = {"grant_type": "refresh_token", "refresh_token": "x"}
    async with http.post(f"{running.url}/restapi/oauth/token", data=data) as response:
        assert response.status == 429
        assert response.headers["X-Rate-Limit-Group"] == "Auth"


async def test_retry_after_can_be_left_out(make_simulator: MakeSimulator,
                                           http: aiohttp.ClientSession) -> None:
    """With retry_after_header off, a 429 carries no Retry-After (clients must assume 60 s)."""
    running = await make_simulator(light=GroupLimit(1, 60.0, 60.0), retry_after_header=False)
    token = await login(http, running.url)
    url = f"{running.url}{A2P.replace('{accountId}', '~')}/batches"
    statuses = []
    for _ in range(2):
        async with http.get(url, headers=bearer(token)) as response:
            statuses.append(response.status)
            last = response
    assert statuses == [200, 429]
    assert "Retry-After" not in last.headers
