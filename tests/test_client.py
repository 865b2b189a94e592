"""The API client on a fake transport and clock: every request path follows the one policy."""

from __future__ import annotations

import logging
import random
import traceback
from typing import Any
from urllib.parse import parse_qs

import anyio
import anyio.lowlevel
import orjson
import pytest

from engine.core.policy import FRESH_REFUSALS, RETRY_AFTER_CAP
from engine.errors import (
    AmbiguousSendError,
    AuthError,
    AuthServiceError,
    NotSentError,
    RequestRejectedError,
    ServerError,
)
from engine.rc.auth import JWT_GRANT
from engine.rc.client import ApiClient
from engine.rc.transport import Reply
from tests.fakes import (
    CREDENTIALS,
    TOKEN,
    FakeClock,
    Handler,
    MockTransport,
    Request,
    reply,
    settings,
)


def client_on(handler: Handler, clock: FakeClock, **retry: Any) -> tuple[ApiClient,
                                                                         MockTransport]:
    transport = MockTransport(handler)
    api = ApiClient(settings(**retry), CREDENTIALS, transport, clock=clock, sleep=clock.sleep,
                    rng=random.Random(1), wall=clock)
    return api, transport


def scripted(*answers: Reply | BaseException) -> Handler:
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


async def test_a_get_throttled_every_time_says_the_rate_limit_not_a_failing_server() -> None:
    """Six 429s in a row (another process on the account): the error names the rate limit
    and that another process may hold the budget, not "the server is failing"."""
    clock = FakeClock()
    api, _ = client_on(scripted(*[reply(429, Retry_After="1")] * 6), clock)
    with pytest.raises(ServerError, match=r"GET /messages: rate limited \(429\) 6 times in a "
                                          r"row: another process") as caught:
        await api.get_json("/messages")
    assert "server is failing" not in str(caught.value)


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


async def test_a_401_gets_a_new_token_and_the_request_is_sent_again() -> None:
    """A 401 was not processed: a new token, then the same request again, as often as the
    token keeps being replaced (two 401s in a row do not refuse the request)."""
    clock = FakeClock()
    api, transport = client_on(scripted(reply(401), reply(401), reply(200, {"n": 1})),
                               clock)
    assert await api.get_json("/batches") == {"n": 1}
    assert len(transport.sent("GET", "/batches")) == 3
    assert len(transport.sent("POST", "/restapi/oauth/token")) == 3  # login, then two more


async def test_a_batch_post_is_never_repeated_by_the_client() -> None:
    """A 500 to a POST that creates a batch comes back to the sender as it is: no resend."""
    clock = FakeClock()
    api, transport = client_on(scripted(reply(500)), clock)
    assert (await api.post_batch(b"{}")).status == 500
    assert len(transport.sent("POST", "/batches")) == 1


async def test_a_rate_limited_login_is_retried_then_reported_as_the_servers_problem() -> None:
    """The token call repeats a 429 up to the attempt limit; then a server problem, not
    bad credentials."""
    clock = FakeClock()
    api, transport = client_on(lambda request: reply(429, Retry_After="1"), clock,
                               max_attempts=3)
    with pytest.raises(AuthServiceError, match=r"failed 3 times \(last: HTTP 429"):
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


class TokenServer:
    """A token endpoint that numbers its tokens and can be told to fail; the A2P side
    accepts only the tokens in ``good`` (all of them when None) and counts each use."""

    def __init__(self, *failures: Reply | BaseException) -> None:
        self.failures = list(failures)
        self.issued = 0
        self.grants: list[str] = []
        self.refuse_refresh = False
        self.good: set[str] | None = None
        self.expire_after: int | None = None  # uses a token gets before it expires
        self.uses: dict[str, int] = {}
        self.refused = 0

    def __call__(self, request: Request) -> Reply | BaseException:
        if request.path.startswith("/restapi/oauth/"):
            if self.failures:
                return self.failures.pop(0)
            form = parse_qs((request.body or b"").decode())
            grant = form.get("grant_type", ["revoke"])[0]
            self.grants.append(grant)
            if grant == "refresh_token" and self.refuse_refresh:
                return reply(400, {"error": "invalid_grant", "error_description": "revoked"})
            self.issued += 1
            return reply(200, {"access_token": f"tok{self.issued}", "refresh_token": "ref",
                               "expires_in": 3600, "refresh_token_expires_in": 86400})
        token = request.headers["Authorization"].removeprefix("Bearer ")
        used = self.uses.get(token, 0)
        if (self.good is not None and token not in self.good) or \
                (self.expire_after is not None and used >= self.expire_after):
            self.refused += 1
            return reply(401, {"errorCode": "OAU-128", "message": "Access token expired"})
        self.uses[token] = used + 1
        return reply(200, {"records": [], "paging": {}})


@pytest.mark.parametrize("failure", [reply(502), reply(503, Retry_After="2"),
                                     Reply(503, {"Content-Type": "text/html"}, b"<html>"),
                                     NotSentError("refused"), AmbiguousSendError("reset")])
async def test_a_failing_token_endpoint_is_retried_with_backoff_until_it_heals(
        failure: Reply | BaseException) -> None:
    """Three failures (5xx, HTML, no answer) then a token: the login succeeds."""
    clock = FakeClock()
    server = TokenServer(failure, failure, failure)
    api, transport = client_on(server, clock, backoff_initial=2.0)
    assert await api.login() == "tok1"
    assert len(transport.sent("POST", "/restapi/oauth/token")) == 4
    assert len(clock.slept) == 3
    assert all(0.0 <= s <= 8.0 for s in clock.slept)


async def test_a_token_endpoint_that_never_heals_is_a_server_problem_not_bad_credentials(
        ) -> None:
    """Every attempt answered 502: AuthServiceError (exit 1) saying the endpoint failed,
    that the credentials were not refused and what to do; no secret in it."""
    clock = FakeClock()
    api, transport = client_on(TokenServer(*[reply(502)] * 10), clock, max_attempts=4)
    with pytest.raises(AuthServiceError) as caught:
        await api.login()
    message = str(caught.value)
    assert "token endpoint" in message
    assert "not refused" in message
    assert "failed 4 times (last: HTTP 502" in message
    assert "run again" in message
    assert not isinstance(caught.value, AuthError)
    assert all(secret not in message for secret in (CREDENTIALS.client_secret,
                                                    CREDENTIALS.jwt))
    assert len(transport.requests) == 4


async def test_an_html_401_from_a_gateway_at_login_is_not_bad_credentials() -> None:
    """A 401 without an OAuth error names no credentials: a server problem, at once."""
    clock = FakeClock()
    api, _ = client_on(TokenServer(Reply(401, {}, b"<html>denied</html>")), clock)
    with pytest.raises(AuthServiceError, match="does not refuse the credentials"):
        await api.login()


async def test_a_401_on_a_used_token_refreshes_and_a_refused_refresh_logs_in_again() -> None:
    """Expired after use: the refresh token first; when it is refused, the JWT again; the
    request then goes through."""
    clock = FakeClock()
    server = TokenServer()
    server.expire_after = 1
    api, _ = client_on(server, clock)
    await api.get_json("/batches")
    await api.get_json("/batches")
    assert server.grants[-1] == "refresh_token"
    server.refuse_refresh = True
    await api.get_json("/batches")
    assert server.grants[-2:] == ["refresh_token", JWT_GRANT]


async def test_new_tokens_refused_again_and_again_are_a_server_problem_bounded() -> None:
    """Every new token meets 401 before serving anything: after FRESH_REFUSALS logins the
    client stops with AuthServiceError (exit 1), not an endless loop, not exit 3."""
    clock = FakeClock()
    server = TokenServer()
    server.good = set()
    api, transport = client_on(server, clock)
    with pytest.raises(AuthServiceError, match="refused 3 new access tokens"):
        await api.post_batch(b"{}")
    assert len(transport.sent("POST", "/batches")) == FRESH_REFUSALS
    assert server.grants == [JWT_GRANT] * FRESH_REFUSALS
    with pytest.raises(AuthServiceError):  # and everyone waiting for a token hears so
        await api.get_json("/batches")
    assert len(transport.sent("POST", "/restapi/oauth/token")) == FRESH_REFUSALS


async def test_workers_that_meet_401_together_share_one_refresh() -> None:
    """Eight requests refused with the same expired token: one refresh, eight retries."""
    clock = FakeClock()
    server = TokenServer()

    async def answer(request: Request) -> Reply | BaseException:
        await anyio.lowlevel.checkpoint()  # every request in flight together
        return server(request)

    api, _ = client_on(answer, clock)
    await api.get_json("/batches")
    server.good = {"tok2"}

    async def one() -> None:
        await api.get_json("/batches")

    async with anyio.create_task_group() as group:
        for _ in range(8):
            group.start_soon(one)
    assert server.refused == 8  # all of them met the 401
    assert server.grants == [JWT_GRANT, "refresh_token"]
    assert server.uses["tok2"] == 8


async def test_after_a_failed_renewal_waiters_fail_at_once_and_a_later_request_heals() -> None:
    """The token endpoint failed every attempt: requests made meanwhile fail at once without
    calling it again; once backoff_max has passed a request tries again and, the endpoint
    healed, goes through."""
    clock = FakeClock()
    server = TokenServer()
    api, transport = client_on(server, clock, max_attempts=2, backoff_max=5.0)
    await api.get_json("/batches")
    server.expire_after = 1
    server.failures = [reply(503), reply(503)]
    with pytest.raises(AuthServiceError):
        await api.get_json("/batches")
    calls = len(transport.sent("POST", "/restapi/oauth/token"))
    with pytest.raises(AuthServiceError):
        await api.get_json("/batches")
    assert len(transport.sent("POST", "/restapi/oauth/token")) == calls
    clock.advance(5.0)
    assert await api.get_json("/batches") == {"records": [], "paging": {}}


async def test_a_503_retry_after_holds_the_budget_back_like_a_429() -> None:
    """A 503 saying Retry-After: 7 holds the Light group for 7 s; the retry adds no
    backoff of its own. Without the header it is an ordinary backoff."""
    clock = FakeClock()
    api, _ = client_on(scripted(reply(503, Retry_After="7"), reply(200, {})), clock,
                       backoff_initial=0.001)
    assert await api.get_json("/batches") == {}
    assert clock.slept == [pytest.approx(7.0, abs=0.01)]
    assert api.throttled == 0  # not a rate limit: only 429s are counted as throttled


async def test_a_503_asking_for_a_day_holds_the_group_minutes_and_says_so(
        caplog: pytest.LogCaptureFixture) -> None:
    """A 503 with Retry-After: 86400 (a gateway's mistake) holds the Light group at most
    RETRY_AFTER_CAP seconds, not a day, and a warning line says the cap applied."""
    clock = FakeClock()
    api, _ = client_on(scripted(reply(503, Retry_After="86400"), reply(200, {})), clock,
                       backoff_initial=0.001)
    with caplog.at_level(logging.WARNING, logger="engine.http"):
        assert await api.get_json("/batches") == {}
    assert clock.slept == [pytest.approx(RETRY_AFTER_CAP, abs=0.01)]
    # said once, by the request that met it, though the answer is read twice (budget, GET)
    assert [r.getMessage() for r in caplog.records].count(
        next(r.getMessage() for r in caplog.records if "Retry-After 86400 capped" in
             r.getMessage())) == 1


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


SECRET_TOKEN = "U0VDUkVULUFDQ0VTUy1UT0tFTi0xMjM0NTY3ODkw"  # what must never be printed


@pytest.mark.parametrize("answer", [
    # a proxy appends a byte: not JSON, its first bytes the token
    Reply(200, {}, orjson.dumps({"access_token": SECRET_TOKEN, "refresh_token": SECRET_TOKEN,
                                 "expires_in": 3600}) + b"}"),
    # JSON, but expires_in not a number: float() quotes the value in its ValueError
    reply(200, {"access_token": SECRET_TOKEN, "expires_in": SECRET_TOKEN}),
])
async def test_a_mangled_token_answer_never_shows_the_token_in_a_traceback(
        answer: Reply) -> None:
    """A token answer the engine cannot use is an AuthServiceError whose whole formatted
    traceback (what `a2p -v` prints, what a user's logging records) holds no byte of the
    token."""
    clock = FakeClock()
    api, _ = client_on(TokenServer(answer), clock)
    with pytest.raises(AuthServiceError) as caught:
        await api.login()
    printed = "".join(traceback.format_exception(caught.value))
    assert "token answer cannot be used" in printed
    assert SECRET_TOKEN[:12] not in printed
    assert caught.value.__cause__ is None
