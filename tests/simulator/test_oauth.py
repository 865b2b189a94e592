"""OAuth on the simulator: JWT grant, refresh, revoke, expiry and the gateway's 401s."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from engine.config.credentials import DEMO_CREDENTIALS
from engine.rc import basicauth
from engine.simulator import FaultSettings, RunningSimulator
from tests.conftest import JWT_GRANT, FakeClock, MakeSimulator, bearer, login
from tests.openapi import A2P, assert_valid

CLIENT = basicauth.encode(DEMO_CREDENTIALS.client_id, DEMO_CREDENTIALS.client_secret)


async def post_token(http: aiohttp.ClientSession, url: str, data: dict[str, str],
                     auth: str = CLIENT) -> tuple[int, Any]:
    headers = {"Authorization": auth}
    async with http.post(f"{url}/restapi/oauth/token", data=data, headers=headers) as response:
        return response.status, await response.json()


async def get_batches(http: aiohttp.ClientSession, url: str, token: dict[str, Any]) -> int:
    path = A2P.replace("{accountId}", "~")
    async with http.get(f"{url}{path}/batches", headers=bearer(token)) as response:
        return response.status


async def test_jwt_grant_returns_token_info(simulator: RunningSimulator,
                                            http: aiohttp.ClientSession) -> None:
    """A JWT login answers with the spec's TokenInfo, refresh token included."""
    token = await login(http, simulator.url)
    assert_valid(token, "/restapi/oauth/token", "post", 200)
    assert token["token_type"] == "bearer"
    assert token["refresh_token"]
    assert token["refresh_token_expires_in"] > 0
    assert await get_batches(http, simulator.url, token) == 200


async def test_wrong_client_secret_is_invalid_client(simulator: RunningSimulator,
                                                     http: aiohttp.ClientSession) -> None:
    """A wrong client secret gets 401 invalid_client with an OAU- error code."""
    data = {"grant_type": JWT_GRANT, "assertion": DEMO_CREDENTIALS.jwt}
    status, body = await post_token(http, simulator.url, data, basicauth.encode("x", "y"))
    assert status == 401
    assert body["error"] == "invalid_client"
    assert body["errors"][0]["errorCode"].startswith("OAU-")


async def test_wrong_assertion_is_invalid_grant(simulator: RunningSimulator,
                                                http: aiohttp.ClientSession) -> None:
    """A JWT the account does not know gets 400 invalid_grant in the spec's error shape."""
    status, body = await post_token(http, simulator.url,
                                    {"grant_type": JWT_GRANT, "assertion": "forged"})
    assert status == 400
    assert_valid(body, "/restapi/oauth/token", "post", 400)
    assert body["error"] == "invalid_grant"


async def test_unknown_grant_type_is_refused(simulator: RunningSimulator,
                                             http: aiohttp.ClientSession) -> None:
    """A grant the simulator does not offer gets 400 unsupported_grant_type."""
    status, body = await post_token(http, simulator.url, {"grant_type": "password"})
    assert (status, body["error"]) == (400, "unsupported_grant_type")


async def test_refresh_is_single_use_and_kills_old_access_token(
    simulator: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    """Refreshing gives a new pair; the old access token and the used refresh token die."""
    first = await login(http, simulator.url)
    data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    status, second = await post_token(http, simulator.url, data)
    assert status == 200
    assert_valid(second, "/restapi/oauth/token", "post", 200)
    assert await get_batches(http, simulator.url, first) == 401
    assert await get_batches(http, simulator.url, second) == 200
    status, body = await post_token(http, simulator.url, data)
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_expired_access_token_is_oau_128(simulator: RunningSimulator,
                                               http: aiohttp.ClientSession,
                                               clock: FakeClock) -> None:
    """After its TTL an access token gets 401 OAU-128; a refresh still works."""
    token = await login(http, simulator.url)
    clock.advance(token["expires_in"] + 1)
    path = A2P.replace("{accountId}", "~")
    async with http.get(f"{simulator.url}{path}/batches", headers=bearer(token)) as response:
        assert response.status == 401
        body = await response.json()
    assert_valid(body, f"{A2P}/batches", "get", 401)
    assert body["errorCode"] == "OAU-128"
    data = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    assert (await post_token(http, simulator.url, data))[0] == 200


async def test_missing_or_bad_bearer_is_agw_402(simulator: RunningSimulator,
                                                http: aiohttp.ClientSession) -> None:
    """No token, or a token the simulator never issued, gets 401 AGW-402."""
    path = f"{simulator.url}{A2P.replace('{accountId}', '~')}/batches"
    for headers in ({}, {"Authorization": "Bearer nope"}):
        async with http.get(path, headers=headers) as response:
            assert response.status == 401
            assert (await response.json())["errorCode"] == "AGW-402"


async def test_revoke_ends_the_session(simulator: RunningSimulator,
                                       http: aiohttp.ClientSession) -> None:
    """Revoking the access token invalidates it and its refresh token."""
    token = await login(http, simulator.url)
    async with http.post(f"{simulator.url}/restapi/oauth/revoke",
                         data={"token": token["access_token"]},
                         headers={"Authorization": CLIENT}) as response:
        assert response.status == 200
    assert await get_batches(http, simulator.url, token) == 401
    data = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    assert (await post_token(http, simulator.url, data))[0] == 400


async def test_short_ttl_is_configurable(make_simulator: Any, http: aiohttp.ClientSession) -> None:
    """Tests can shorten the access-token TTL; expires_in reports it."""
    running = await make_simulator(access_token_ttl=5)
    token = await login(http, running.url)
    assert token["expires_in"] == 5


# Fault modes of the token endpoint and of tokens (issue 18) -----------------------------------

async def test_tokens_expire_after_a_number_of_requests(make_simulator: MakeSimulator,
                                                        http: aiohttp.ClientSession) -> None:
    """With expire_after_requests=2, a token serves two requests, then meets 401 OAU-128."""
    running = await make_simulator(faults=FaultSettings(expire_after_requests=2))
    token = await login(http, running.url)
    assert [await get_batches(http, running.url, token) for _ in range(3)] == [200, 200, 401]
    assert running.simulator.stats["token_expired"] == 1
    assert await get_batches(http, running.url, await login(http, running.url)) == 200


async def test_a_refused_refresh_leaves_the_jwt_login_working(
        make_simulator: MakeSimulator, http: aiohttp.ClientSession) -> None:
    """refresh_refused_rate=1: every refresh gets 400 invalid_grant; a JWT login still works."""
    running = await make_simulator(faults=FaultSettings(refresh_refused_rate=1.0))
    first = await login(http, running.url)
    status, body = await post_token(http, running.url, {
        "grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert (status, body["error"]) == (400, "invalid_grant")
    assert_valid(body, "/restapi/oauth/token", "post", 400)
    assert (await login(http, running.url))["access_token"]


@pytest.mark.parametrize(("statuses", "html"), [((502,), False), ((503,), True)])
async def test_a_failing_token_endpoint_fails_a_bounded_number_of_calls_then_heals(
        make_simulator: MakeSimulator, http: aiohttp.ClientSession,
        statuses: tuple[int, ...], html: bool) -> None:
    """token_error_count=3: three token calls fail (JSON or HTML), the fourth logs in."""
    running = await make_simulator(faults=FaultSettings(
        token_error_count=3, token_error_statuses=statuses, token_error_html=html))
    data = {"grant_type": JWT_GRANT, "assertion": DEMO_CREDENTIALS.jwt}
    for _ in range(3):
        async with http.post(f"{running.url}/restapi/oauth/token", data=data,
                             headers={"Authorization": CLIENT}) as response:
            assert response.status == statuses[0]
            assert response.content_type == ("text/html" if html else "application/json")
    assert (await login(http, running.url))["access_token"]
    assert running.simulator.stats["token_error"] == 3


async def test_a_token_endpoint_can_drop_the_connection(make_simulator: MakeSimulator,
                                                        http: aiohttp.ClientSession) -> None:
    """Status 0 among token_error_statuses: the connection closes with no answer."""
    running = await make_simulator(faults=FaultSettings(token_error_count=1,
                                                        token_error_statuses=(0,)))
    data = {"grant_type": JWT_GRANT, "assertion": DEMO_CREDENTIALS.jwt}
    with pytest.raises(aiohttp.ClientError):
        async with http.post(f"{running.url}/restapi/oauth/token", data=data,
                             headers={"Authorization": CLIENT}) as response:
            await response.read()
    assert (await login(http, running.url))["access_token"]


async def test_token_errors_at_a_rate_are_reproducible(make_simulator: MakeSimulator,
                                                       http: aiohttp.ClientSession) -> None:
    """The same seed fails the same token calls."""
    runs = []
    for _ in range(2):
        running = await make_simulator(faults=FaultSettings(seed=7, token_error_rate=0.5))
        data = {"grant_type": JWT_GRANT, "assertion": DEMO_CREDENTIALS.jwt}
        statuses = []
        for _ in range(12):
            async with http.post(f"{running.url}/restapi/oauth/token", data=data,
                                 headers={"Authorization": CLIENT}) as response:
                statuses.append(response.status)
        runs.append(statuses)
    assert runs[0] == runs[1]
    assert 200 in runs[0]
    assert {502, 503} & set(runs[0])
