"""RingCentral API client: OAuth (JWT grant, refresh, revoke), the shared rate budgets, and the
A2P calls. Reaches HTTP only through a Transport; takes its clock and sleep as parameters."""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import anyio

from engine.config.settings import Credentials, Settings
from engine.core.paging import PageWalk
from engine.core.policy import (
    MAX_REFRESHES,
    Action,
    Kind,
    Renew,
    asked_wait,
    classify,
    credentials_refused,
    decide,
    renewal,
    retry_after_note,
    unanswered,
)
from engine.errors import (
    AmbiguousSendError,
    AuthError,
    AuthServiceError,
    BadBodyError,
    EngineError,
    NotSentError,
    RequestRejectedError,
    ServerError,
)
from engine.rc import basicauth
from engine.rc.ratebudget import RateBudget
from engine.rc.transport import Reply, Transport, page_of

log = logging.getLogger("engine.http")
# What -v shows of an answer: RingCentral's rate-limit headers (never a body or a token).
RATE_HEADERS = ("X-Rate-Limit-Group", "X-Rate-Limit-Limit", "X-Rate-Limit-Remaining",
                "X-Rate-Limit-Window", "Retry-After")
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}


def error_of(reply: Reply) -> tuple[str, str]:
    """(errorCode, message) from any of RingCentral's error shapes, never raising."""
    try:
        body = reply.json()
    except BadBodyError:
        body = None
    if not isinstance(body, dict):
        return f"HTTP-{reply.status}", "the answer carried no error details"
    errors = body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    code = body.get("errorCode") or first.get("errorCode") or body.get("error") or \
        f"HTTP-{reply.status}"
    message = body.get("message") or first.get("message") or body.get("error_description") or ""
    return str(code), str(message)


def oauth_error_of(reply: Reply) -> str | None:
    """The OAuth ``error`` (RFC 6749: invalid_grant, ...) of a token endpoint's answer."""
    try:
        body = reply.json()
    except BadBodyError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None


@dataclass(slots=True)
class _Token:
    access: str
    refresh: str
    expires_at: float
    refresh_expires_at: float
    used: bool = False  # a request got past authentication with it


class ApiClient:
    def __init__(self, settings: Settings, credentials: Credentials, transport: Transport, *,
                 clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]],
                 rng: random.Random | None = None,
                 wall: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._credentials = credentials
        self._transport = transport
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._rules = settings.retry.rules()
        limits = settings.rate_limit
        self.light = RateBudget("Light", limits.light_requests, limits.light_window, clock, sleep)
        self.auth = RateBudget("Auth", limits.auth_requests, limits.auth_window, clock, sleep)
        self.account = f"/restapi/v1.0/account/{settings.account}"
        self.a2p = f"{self.account}/a2p-sms"
        self._token: _Token | None = None
        self._lock = anyio.Lock()
        self._fresh_refusals = 0  # tokens refused with 401 in a row before serving anything
        # Once no token could be had, every task waiting for one hears so at once instead of
        # trying the failing endpoint again in turn; after a pause (backoff_max) a later
        # request (a poll) tries again, so an endpoint that heals is used again.
        self._no_token: tuple[AuthServiceError, float] | None = None
        # Set by the run: once it is, no request that creates a batch starts.
        self.stop: anyio.Event | None = None
        self.requests = 0
        self.throttled = 0
        self.server_date: float | None = None
        self._wall = wall
        self._server_offset = 0.0  # server clock minus ours, from the last Date header
        self._creation_offset: float | None = None  # the same, from a batch's creationTime

    def __repr__(self) -> str:
        return f"ApiClient({self.settings.server_url!r})"

    # OAuth -----------------------------------------------------------------------------------

    async def _token_call(self, path: str, form: Mapping[str, str]) -> Reply:
        """One token call, repeated under the Auth budget while the endpoint is limited,
        failing (5xx) or unanswered: a token call creates no SMS. When the attempts run out
        that is the server's problem (AuthServiceError), never the credentials'."""
        headers = {**FORM, "Authorization": basicauth.encode(self._credentials.client_id,
                                                             self._credentials.client_secret)}
        started = self._clock()
        for attempt in itertools.count(1):
            failure: EngineError | None = None
            try:
                reply = await self._send(self.auth, "POST", path, headers,
                                         urlencode(form).encode())
                verdict = classify(reply.status, Kind.TOKEN)
            except (NotSentError, AmbiguousSendError) as exc:
                failure, reply = exc, Reply(0)
                verdict = unanswered(isinstance(exc, AmbiguousSendError), Kind.TOKEN)
            step = decide(verdict, attempt, self._clock() - started, self._asked_wait(reply),
                          rules=self._rules, rng=self._rng)
            if step.action is Action.GIVE_UP:
                raise AuthServiceError(self._token_failure(path, attempt, reply, failure))
            if step.action is not Action.RETRY:
                return reply
            await self._pause(step.delay)
        raise AssertionError("unreachable")

    def _token_failure(self, path: str, attempts: int, reply: Reply,
                       failure: EngineError | None) -> str:
        if failure is not None:
            last = f"no answer: {failure}"
        else:
            code, _ = error_of(reply)
            last = f"HTTP {reply.status} {code}"
        return (f"the token endpoint {self.settings.server_url}{path} failed {attempts} times "
                f"(last: {last}): RingCentral's sign-in service, or a gateway before it, is "
                "failing, rate limited or unreachable. The credentials were not refused. "
                "Check the network and RingCentral's status page, then run again later "
                "(a run with a journal finishes with --resume).")

    def _keep(self, reply: Reply) -> str:
        try:
            body = reply.json()
            now = self._clock()
            self._token = _Token(body["access_token"], body.get("refresh_token", ""),
                                 now + float(body["expires_in"]),
                                 now + float(body.get("refresh_token_expires_in", 0)))
        except (BadBodyError, KeyError, TypeError, ValueError) as exc:
            raise AuthServiceError("the token answer lacks access_token or expires_in; is "
                                   "RC_SERVER_URL a RingCentral server?") from exc
        return self._token.access

    async def login(self) -> str:
        """A new session from the JWT. Only an OAuth refusal of the credentials is an
        AuthError (exit 3); any other answer is the server's problem."""
        path = "/restapi/oauth/token"
        reply = await self._token_call(path, {"grant_type": JWT_GRANT,
                                              "assertion": self._credentials.jwt})
        if reply.status != 200:
            code, message = error_of(reply)
            if credentials_refused(reply.status, oauth_error_of(reply)):
                raise AuthError(f"login refused: HTTP {reply.status} {code}: {message}. "
                                "Check RC_APP_CLIENT_ID, RC_APP_CLIENT_SECRET and "
                                "RC_USER_JWT.")
            raise AuthServiceError(
                f"the token endpoint {self.settings.server_url}{path} answered the login "
                f"with HTTP {reply.status} {code}, which does not refuse the credentials. "
                "Check that RC_SERVER_URL is RingCentral's API server, then run again later.")
        return self._keep(reply)

    async def _renew(self, how: Renew = Renew.REFRESH) -> str:
        """A new token: refreshed when ``how`` allows and the refresh token is still good;
        when the refresh is refused, the JWT is presented again."""
        token = self._token
        if token is None:
            return await self.login()
        if how is Renew.REFRESH and token.refresh and \
                token.refresh_expires_at > self._clock():
            reply = await self._token_call("/restapi/oauth/token",
                                           {"grant_type": "refresh_token",
                                            "refresh_token": token.refresh})
            if reply.status == 200:
                return self._keep(reply)
        return await self.login()

    async def bearer(self) -> str:
        """A valid access token; one refresh at a time however many tasks are waiting."""
        token = self._token
        if token is not None and token.expires_at - self._margin() > self._clock():
            return token.access
        async with self._lock:
            token = self._token
            if token is not None and token.expires_at - self._margin() > self._clock():
                return token.access
            return await self._guarded(Renew.REFRESH if token is not None else Renew.LOGIN)

    async def _guarded(self, how: Renew) -> str:
        """``_renew`` under the lock, remembering a failing token endpoint."""
        self._raise_if_no_token()
        try:
            return await self._renew(how)
        except AuthServiceError as exc:
            self._no_token = (exc, self._clock() + self._rules.backoff_max)
            raise

    def _raise_if_no_token(self) -> None:
        if self._no_token is not None:
            failure, until = self._no_token
            if self._clock() < until:
                raise failure
            self._no_token, self._fresh_refusals = None, 0  # the pause is over: try again

    def _margin(self) -> float:
        return 60.0 if self._token is None else min(60.0, (self._token.expires_at -
                                                           self._clock()) / 10 + 1.0)

    def _served(self, access: str) -> None:
        """A request with ``access`` met something other than a 401 (or lost its answer):
        the token is not one refused as soon as issued. Lenient on purpose: the bound on
        new tokens refused in a row must never stop a run whose tokens merely expire."""
        if self._token is not None and self._token.access == access:
            self._token.used = True
        self._fresh_refusals = 0  # even an older token's answer shows tokens are honoured

    async def _after_401(self, stale: str) -> None:
        """A 401 on ``stale``: one task renews it while the others wait, then all retry
        with the new token (no stampede on the Auth budget)."""
        async with self._lock:
            token = self._token
            if token is not None and token.access != stale:
                return  # another task already replaced it
            used = token is not None and token.used
            if not used:
                self._fresh_refusals += 1
            how = renewal(used, self._fresh_refusals, token is not None and
                          bool(token.refresh))
            if how is Renew.GIVE_UP:
                self._raise_if_no_token()
                failure = AuthServiceError(
                    f"the server refused {self._fresh_refusals} new access tokens in a row "
                    "with HTTP 401 as soon as they were issued, although the credentials "
                    "log in: RingCentral's API gateway is failing. Run again later (a run "
                    "with a journal finishes with --resume).")
                self._no_token = (failure, self._clock() + self._rules.backoff_max)
                raise failure
            await self._guarded(how)

    async def revoke(self) -> None:
        """End the session; a token endpoint that fails cannot spoil the run's end: the
        session then simply expires (and one that just failed is not asked at all)."""
        token = self._token
        if token is not None and self._no_token is None:
            self._token = None
            try:
                await self._token_call("/restapi/oauth/revoke", {"token": token.access})
            except EngineError as exc:
                log.warning("could not revoke the session (%s); it expires by itself", exc)

    # Requests --------------------------------------------------------------------------------

    async def _send(self, budget: RateBudget, method: str, path: str,
                    headers: Mapping[str, str], body: bytes | bytearray | None,
                    params: Mapping[str, Any] | None = None, creates: bool = False) -> Reply:
        await budget.acquire(self.stop if creates else None)
        started = self._clock()
        try:
            reply = await self._transport.request(method, self.settings.server_url + path,
                                                  headers=headers, body=body, params=params)
        except BaseException as exc:
            budget.release({})
            log.debug("%s %s -> %s after %.3f s", method, path, type(exc).__name__,
                      self._clock() - started)
            raise
        budget.release(reply.headers)
        if log.isEnabledFor(logging.DEBUG):
            limits = " ".join(f"{name}={reply.headers[name]}" for name in RATE_HEADERS
                              if name in reply.headers)
            log.debug("%s %s -> %d in %.3f s %s", method, path, reply.status,
                      self._clock() - started, limits)
        self.requests += 1
        self._note_date(reply.headers.get("Date"))
        if reply.status == 429:
            self.throttled += 1
        wait = self._asked_wait(reply)
        if wait is not None:  # a 429, or a 503 saying when to come back
            budget.penalize(wait)
        return reply

    def _note_date(self, header: str | None) -> None:
        if header:
            with contextlib.suppress(TypeError, ValueError):
                self.server_date = parsedate_to_datetime(header).timestamp()
                self._server_offset = self.server_date - self._wall()

    def note_creation(self, creation_time: object) -> None:
        """A new batch's creationTime: the very clock listings filter on. It was stamped
        before we read it, so it can only put the server's clock too early, which is safe."""
        if isinstance(creation_time, str):
            with contextlib.suppress(ValueError):
                stamp = datetime.fromisoformat(creation_time).timestamp()
                self._creation_offset = stamp - self._wall()

    def server_now(self) -> float:
        """The server's clock (epoch seconds): the earlier of what its last Date header and
        its last batch creationTime say, since listings filter on creationTime and a
        ``dateFrom`` too early only widens the search."""
        offsets = [self._server_offset] + [o for o in (self._creation_offset,) if o is not None]
        return self._wall() + min(offsets)

    async def call(self, method: str, path: str, *, body: bytes | bytearray | None = None,
                   params: Mapping[str, Any] | None = None, creates: bool = False) -> Reply:
        """One request in the Light group; a 401 gets a new token and the request is sent
        again (a 401 was not processed, so even a POST is safe to repeat), as often as
        ``policy.MAX_REFRESHES`` allows. ``path`` is under the account's a2p-sms root unless
        it starts with /restapi/. A request that ``creates`` a batch raises StoppedError
        instead of starting once ``stop`` is set; when no token can be had, AuthError (the
        credentials were refused) or AuthServiceError (the server is failing)."""
        if not path.startswith("/restapi/"):
            path = self.a2p + path
        kind = Kind.CREATE if creates else Kind.READ
        for attempt in itertools.count(1):
            token = await self.bearer()
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            try:
                reply = await self._send(self.light, method, path, headers, body, params,
                                         creates)
            except AmbiguousSendError:
                self._served(token)  # it went out and may have served: not a fresh refusal
                raise
            step = decide(classify(reply.status, kind), attempt,
                          may_refresh=attempt <= MAX_REFRESHES)
            if reply.status != 401:
                self._served(token)  # any other answer: not a token refused as issued
            if step.action is Action.REFRESH:
                await self._after_401(token)
            elif reply.status == 401:
                raise AuthServiceError(
                    f"{method} {path}: refused with HTTP 401 {attempt} times, each time with "
                    "a new token, although the credentials log in: RingCentral's API gateway "
                    "is failing. Run again later (a run with a journal finishes with "
                    "--resume).")
            else:
                return reply
        raise AssertionError("unreachable")

    async def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """A GET (idempotent, so retried on any transient failure); raises on a 4xx."""
        started = self._clock()
        for attempt in itertools.count(1):
            failure: EngineError | None = None
            try:
                reply = await self.call("GET", path, params=params)
                verdict, wait = classify(reply.status, Kind.READ), self._asked_wait(reply)
            except (NotSentError, AmbiguousSendError) as exc:
                failure, wait = exc, None
                verdict = unanswered(isinstance(exc, AmbiguousSendError), Kind.READ)
            step = decide(verdict, attempt, self._clock() - started, wait, rules=self._rules,
                          rng=self._rng)
            if step.action is Action.DONE:
                return reply.json()
            if step.action is Action.FAIL:
                code, message = error_of(reply)
                raise RequestRejectedError(reply.status, code, message)
            if step.action is Action.GIVE_UP:
                if failure is not None:
                    raise failure
                raise ServerError(f"GET {path}: no good answer after {attempt} tries; the "
                                  "server is failing. Run again later.")
            await self._pause(step.delay)
        raise AssertionError("unreachable")

    def _asked_wait(self, reply: Reply) -> float | None:
        """The wait the answer asked for (a 429, or a 503 with Retry-After: the policy says
        which), which the rate budget holds; None for any other answer."""
        header = reply.headers.get("Retry-After")
        wait = asked_wait(reply.status, header, self.settings.rate_limit.default_retry_after)
        note = retry_after_note(header) if wait is not None else None
        if note is not None:
            log.warning("HTTP %s: %s", reply.status, note)
        return wait

    async def _pause(self, seconds: float) -> None:
        if seconds > 0:
            await self._sleep(seconds)

    async def batches(self, params: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Every batch a listing returns, page after page (up to 1000 a page)."""
        query = {"perPage": 1000, **params}
        walk = PageWalk("GET .../batches")
        while True:
            records, token = walk.page(page_of(await self.get_json("/batches", query)))
            for record in records:
                yield record
            if not token:
                return
            query["pageToken"] = token

    async def post_batch(self, body: bytes | bytearray) -> Reply:
        return await self.call("POST", "/batches", body=body, creates=True)
