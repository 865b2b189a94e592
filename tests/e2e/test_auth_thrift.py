"""RingCentral allows 5 Auth requests a minute: ``a2p check`` logs in once for its pre-flight
and its opt-outs, and the revoke that ends a command is best effort (a 429 or a limited budget
skips it, said at -v, instead of waiting out the minute)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from engine.batching.chunker import Body
from engine.config.credentials import DEMO_CREDENTIALS
from engine.rc.auth import REVOKE_WAIT
from engine.rc.client import ApiClient
from engine.rc.transport import AiohttpTransport, Reply
from engine.run.consent import Consents
from engine.run.doors import check_and_opt_outs
from engine.simulator.settings import GroupLimit
from tests.e2e.conftest import SENDER, Start


class Counting(AiohttpTransport):
    """The real transport, counting the requests to each path."""

    def __init__(self) -> None:
        super().__init__(10.0)
        self.paths: list[str] = []

    async def request(self, method: str, url: str, *, headers: Mapping[str, str],
                      body: Body | None = None, params: Mapping[str, Any] | None = None) -> Reply:
        self.paths.append(url.split("/restapi", 1)[-1])
        return await super().request(method, url, headers=headers, body=body, params=params)


async def test_check_logs_in_once_for_the_preflight_and_the_opt_outs(start: Start) -> None:
    """The check's pre-flight and opt-out read share one login and one revoke."""
    _running, settings = await start()
    transport = Counting()
    try:
        found, consents = await check_and_opt_outs(SENDER, config=settings,
                                                   credentials=DEMO_CREDENTIALS,
                                                   transport=transport)
    finally:
        await transport.close()
    assert found.sender.number == SENDER
    assert isinstance(consents, Consents)
    assert transport.paths.count("/oauth/token") == 1
    assert transport.paths.count("/oauth/revoke") == 1


def client_asking_sleeps(settings: Any, transport: AiohttpTransport
                         ) -> tuple[ApiClient, list[float]]:
    asked: list[float] = []

    async def sleep(seconds: float) -> None:  # records the wait, takes none
        asked.append(seconds)
        await anyio.lowlevel.checkpoint()

    return ApiClient(settings, DEMO_CREDENTIALS, transport, clock=time.monotonic,
                     sleep=sleep), asked


async def test_a_revoke_answered_429_is_skipped_without_waiting(
        start: Start, caplog: pytest.LogCaptureFixture) -> None:
    """The revoke meets 429 Retry-After 60 (another process spent the Auth group): no wait
    is asked, the token is left to expire, and -v (DEBUG) says so."""
    running, settings = await start(auth=GroupLimit(2, 60.0, 60.0))
    transport = AiohttpTransport(10.0)
    other, _ = client_asking_sleeps(settings, transport)
    client, asked = client_asking_sleeps(settings, transport)
    try:
        await other.login()  # another process's login: one of the group's two
        await client.login()
        with caplog.at_level(logging.DEBUG, logger="engine.http"):
            await client.revoke()
    finally:
        await transport.close()
    assert running.simulator.stats.get("429", 0) == 1  # one revoke request, not retried
    assert all(seconds <= REVOKE_WAIT for seconds in asked)
    assert running.simulator.store.open_sessions() == 2  # left to expire on its own
    assert "not revoked (HTTP 429" in caplog.text
    assert "expires by itself" in caplog.text


async def test_a_revoke_is_not_sent_while_the_auth_budget_is_held(
        start: Start, caplog: pytest.LogCaptureFixture) -> None:
    """An Auth budget held by a 429's penalty for a minute: the revoke is not sent and waits
    for nothing."""
    running, settings = await start()
    transport = AiohttpTransport(10.0)
    client, asked = client_asking_sleeps(settings, transport)
    try:
        await client.login()
        client.auth.penalize(60.0)
        with caplog.at_level(logging.DEBUG, logger="engine.http"):
            await client.revoke()
    finally:
        await transport.close()
    assert asked == []
    assert running.simulator.store.open_sessions() == 1
    assert "allows no request for 60 s" in caplog.text
