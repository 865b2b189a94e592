"""The API client on a fake transport and clock: every request path follows the one policy."""

from __future__ import annotations

import random

import pytest

from engine.client import ApiClient
from engine.errors import AmbiguousSendError, AuthError, NotSentError, RequestRejectedError
from engine.transport import Reply
from tests.fakes import CREDENTIALS, TOKEN, FakeClock, MockTransport, Request, reply, settings


def client_on(handler: object, clock: FakeClock, **retry: object) -> tuple[ApiClient,
                                                                           MockTransport]:
    transport = MockTransport(handler)  # type: ignore[arg-type]
    api = ApiClient(settings(**retry), CREDENTIALS, transport, clock=clock, sleep=clock.sleep,
                    rng=random.Random(1), wall=clock)
    return api, transport


def scripted(*answers: Reply | BaseException) -> object:
    """Token calls succeed; other requests get ``answers`` in order."""
    left = list(answers)

    def handle(request: Request) -> Reply | BaseException:
        if request.path.startswith("/restapi/oauth/"):
            return TOKEN
        return left.pop(0)

    return handle


@pytest.mark.parametrize("first", [reply(500), reply(502), reply(504), reply(503),
                                   NotSentError("down"), AmbiguousSendError("lost")])
async def test_a_get_is_retried_after_a_backoff_on_any_transient_failure(
        first: Reply | BaseException) -> None:
    """A GET changes nothing, so a 5xx or a lost answer is repeated after a jittered wait."""
    clock = FakeClock()
    api, transport = client_on(scripted(first, reply(200, {"ok": True})), clock,
                               backoff_initial=2.0)
    assert await api.get_json("/batches/b1") == {"ok": True}
    assert len(transport.sent("GET", "/batches/b1")) == 2
    assert len(clock.slept) == 1
    assert 0.0 <= clock.slept[0] <= 2.0


async def test_a_get_gives_up_after_the_attempts_and_says_so() -> None:
    """Six 500s in a row: a ServerError naming the path and the count of tries."""
    clock = FakeClock()
    api, transport = client_on(scripted(*[reply(500)] * 6), clock)
    with pytest.raises(Exception, match=r"GET /statuses: no good answer after 6 tries"):
        await api.get_json("/statuses")
    assert len(transport.requests) == 7  # the login, then six tries


async def test_a_get_refused_with_a_4xx_raises_rc_error_code_at_once() -> None:
    """A 404 is not retried; the error carries RingCentral's code."""
    clock = FakeClock()
    api, _ = client_on(scripted(reply(404, {"errorCode": "CMN-102", "message": "gone"})),
                       clock)
    with pytest.raises(RequestRejectedError, match="HTTP 404 CMN-102: gone"):
        await api.get_json("/batches/x")
    assert clock.slept == []


async def test_a_429_waits_on_the_rate_budget_not_on_a_backoff() -> None:
    """Retry-After holds the Light budget back; the retry adds no sleep of its own."""
    clock = FakeClock()
    api, _ = client_on(scripted(reply(429, Retry_After="7"), reply(200, {})), clock)
    assert await api.get_json("/batches") == {}
    assert clock.slept == [pytest.approx(7.0, abs=0.01)]  # the budget's wait, once
    assert api.throttled == 1


async def test_a_401_refreshes_the_token_once_and_a_second_401_is_refused() -> None:
    """One refresh per request: a 401 was not processed, so repeating once is safe."""
    clock = FakeClock()
    api, transport = client_on(scripted(reply(401), reply(200, {"n": 1})), clock)
    assert await api.get_json("/batches") == {"n": 1}
    assert len(transport.sent("POST", "/restapi/oauth/token")) == 2  # login, then refresh
    api2, transport2 = client_on(scripted(reply(401), reply(401)), clock)
    with pytest.raises(RequestRejectedError, match="HTTP 401"):
        await api2.get_json("/batches")
    assert len(transport2.sent("GET", "/batches")) == 2


async def test_a_batch_post_is_never_repeated_by_the_client() -> None:
    """A 500 to a POST that creates a batch comes back to the sender as it is: no resend."""
    clock = FakeClock()
    api, transport = client_on(scripted(reply(500)), clock)
    assert (await api.post_batch(b"{}")).status == 500
    assert len(transport.sent("POST", "/batches")) == 1


async def test_a_rate_limited_login_is_retried_then_refused_with_a_fix() -> None:
    """The token call repeats only a 429, up to the attempt limit."""
    clock = FakeClock()
    api, transport = client_on(lambda request: reply(429, Retry_After="1"), clock,
                               max_attempts=3)
    with pytest.raises(AuthError, match="still rate limited after 3 tries"):
        await api.login()
    assert len(transport.requests) == 3


async def test_a_refused_login_is_not_retried() -> None:
    """A 400 on the JWT grant: one request, an AuthError that names the variables to check."""
    clock = FakeClock()
    api, transport = client_on(
        lambda request: reply(400, {"error": "invalid_grant", "error_description": "bad"}),
        clock)
    with pytest.raises(AuthError, match="RC_USER_JWT"):
        await api.login()
    assert len(transport.requests) == 1


async def test_a_503_retry_after_holds_the_budget_back_like_a_429() -> None:
    """A 503 saying Retry-After: 7 holds the Light group for 7 s; the retry adds no
    backoff of its own. Without the header it is an ordinary backoff."""
    clock = FakeClock()
    api, _ = client_on(scripted(reply(503, Retry_After="7"), reply(200, {})), clock,
                       backoff_initial=0.001)
    assert await api.get_json("/batches") == {}
    assert clock.slept == [pytest.approx(7.0, abs=0.01)]
    assert api.throttled == 0  # not a rate limit: only 429s are counted as throttled


async def test_a_503_on_a_batch_post_holds_the_budget_for_what_follows() -> None:
    """The POST's 503 comes back to the sender as it is, and the next request of the group
    waits out its Retry-After."""
    clock = FakeClock()
    api, transport = client_on(scripted(reply(503, Retry_After="9"), reply(200, {})), clock)
    start = clock.now
    assert (await api.post_batch(b"{}")).status == 503
    assert len(transport.sent("POST", "/batches")) == 1
    await api.get_json("/batches")
    assert clock.now - start >= 9.0
