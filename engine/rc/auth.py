"""The OAuth session of a run: the JWT login, the refresh, a new login when a refresh is
refused or a new token is refused at once, one renewal shared by every task that meets a 401,
and a failing token endpoint remembered so that waiting tasks hear so at once. What each answer
means is the retry policy's call (``policy.classify(..., Kind.TOKEN)``, ``policy.renewal``,
``policy.credentials_refused``); the requests go out through the client's ``send`` under the
Auth budget."""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import anyio

from engine.config.credentials import Credentials
from engine.core.policy import (
    Action,
    Kind,
    Renew,
    Rules,
    classify,
    credentials_refused,
    decide,
    renewal,
    unanswered,
)
from engine.errors import (
    AmbiguousSendError,
    AuthError,
    AuthServiceError,
    BadBodyError,
    EngineError,
    NotSentError,
)
from engine.rc import basicauth
from engine.rc.ratebudget import RateBudget
from engine.rc.transport import Reply, error_of

log = logging.getLogger("engine.http")
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
# One request under a budget: (budget, method, path, headers, body) -> the answer.
Send = Callable[[RateBudget, str, str, Mapping[str, str], bytes | None], Awaitable[Reply]]


def oauth_error_of(reply: Reply) -> str | None:
    """The OAuth ``error`` (RFC 6749: invalid_grant, ...) of a token endpoint's answer."""
    try:
        body = reply.json(secret=True)
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


class Session:
    """The access token every request carries, renewed as the policy says."""

    def __init__(self, server_url: str, credentials: Credentials, budget: RateBudget,
                 send: Send, asked_wait: Callable[[Reply], float | None], *, rules: Rules,
                 clock: Callable[[], float], pause: Callable[[float], Awaitable[None]],
                 rng: random.Random) -> None:
        self._server_url = server_url
        self._credentials = credentials
        self._budget = budget
        self._send = send
        self._asked_wait = asked_wait
        self._rules = rules
        self._clock = clock
        self._pause = pause
        self._rng = rng
        self._token: _Token | None = None
        self._lock = anyio.Lock()
        self._fresh_refusals = 0  # tokens refused with 401 in a row before serving anything
        # Once no token could be had, every task waiting for one hears so at once instead of
        # trying the failing endpoint again in turn; after a pause (backoff_max) a later
        # request (a poll) tries again, so an endpoint that heals is used again.
        self._no_token: tuple[AuthServiceError, float] | None = None

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
                reply = await self._send(self._budget, "POST", path, headers,
                                         urlencode(form).encode())
                verdict = classify(reply.status, Kind.TOKEN)
            except (NotSentError, AmbiguousSendError) as exc:
                failure, reply = exc, Reply(0)
                verdict = unanswered(isinstance(exc, AmbiguousSendError), Kind.TOKEN)
            step = decide(verdict, attempt, self._clock() - started, self._asked_wait(reply),
                          kind=Kind.TOKEN, rules=self._rules, rng=self._rng)
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
        return (f"the token endpoint {self._server_url}{path} failed {attempts} times "
                f"(last: {last}): RingCentral's sign-in service, or a gateway before it, is "
                "failing, rate limited or unreachable. The credentials were not refused. "
                "Check the network and RingCentral's status page, then run again later "
                "(a run with a journal finishes with --resume).")

    def _keep(self, reply: Reply) -> str:
        try:
            body = reply.json(secret=True)
            now = self._clock()
            self._token = _Token(body["access_token"], body.get("refresh_token", ""),
                                 now + float(body["expires_in"]),
                                 now + float(body.get("refresh_token_expires_in", 0)))
        except (BadBodyError, KeyError, TypeError, ValueError) as exc:
            # from None: the cause's message or values may quote the answer, and a token
            # in it (a traceback prints causes, as `a2p -v` does)
            what = str(exc) if isinstance(exc, BadBodyError) else \
                "it lacks access_token or a numeric expires_in"
            raise AuthServiceError(f"the token answer cannot be used: {what}. Is "
                                   "RC_SERVER_URL a RingCentral server?") from None
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
                f"the token endpoint {self._server_url}{path} answered the login "
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

    def served(self, access: str) -> None:
        """A request with ``access`` met something other than a 401 (or lost its answer):
        the token is not one refused as soon as issued. Lenient on purpose: the bound on
        new tokens refused in a row must never stop a run whose tokens merely expire."""
        if self._token is not None and self._token.access == access:
            self._token.used = True
        self._fresh_refusals = 0  # even an older token's answer shows tokens are honoured

    async def after_401(self, stale: str) -> None:
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
