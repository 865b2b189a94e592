"""RingCentral API client: OAuth (JWT grant, refresh, revoke), the shared rate budgets, and the
A2P calls. Reaches HTTP only through a Transport; takes its clock and sleep as parameters."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import anyio

from engine import basicauth
from engine.config import Credentials, Settings
from engine.errors import AmbiguousSendError, AuthError, RequestRejectedError, ServerError
from engine.policy import backoff, retry_after
from engine.ratebudget import RateBudget
from engine.transport import BadBodyError, NotSentError, Reply, Transport, page_of

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


@dataclass(slots=True)
class _Token:
    access: str
    refresh: str
    expires_at: float
    refresh_expires_at: float


class ApiClient:
    def __init__(self, settings: Settings, credentials: Credentials, transport: Transport, *,
                 clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]],
                 rng: random.Random | None = None) -> None:
        self.settings = settings
        self._credentials = credentials
        self._transport = transport
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        limits = settings.rate_limit
        self.light = RateBudget("Light", limits.light_requests, limits.light_window, clock, sleep)
        self.auth = RateBudget("Auth", limits.auth_requests, limits.auth_window, clock, sleep)
        self.account = f"/restapi/v1.0/account/{settings.account}"
        self.a2p = f"{self.account}/a2p-sms"
        self._token: _Token | None = None
        self._lock = anyio.Lock()
        self.requests = 0
        self.throttled = 0
        self.server_date: float | None = None

    def __repr__(self) -> str:
        return f"ApiClient({self.settings.server_url!r})"

    # OAuth -----------------------------------------------------------------------------------

    async def _token_call(self, path: str, form: Mapping[str, str]) -> Reply:
        headers = {**FORM, "Authorization": basicauth.encode(self._credentials.client_id,
                                                             self._credentials.client_secret)}
        for _ in range(self.settings.retry.max_attempts):
            reply = await self._send(self.auth, "POST", path, headers,
                                     urlencode(form).encode())
            if reply.status != 429:
                return reply
        raise AuthError(f"{path}: still rate limited after {self.settings.retry.max_attempts} "
                        "tries; wait a minute and run again.")

    def _keep(self, reply: Reply) -> str:
        body = reply.json()
        try:
            now = self._clock()
            self._token = _Token(body["access_token"], body.get("refresh_token", ""),
                                 now + float(body["expires_in"]),
                                 now + float(body.get("refresh_token_expires_in", 0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise AuthError("the token answer lacks access_token or expires_in; is "
                            "RC_SERVER_URL a RingCentral server?") from exc
        return self._token.access

    async def login(self) -> str:
        reply = await self._token_call("/restapi/oauth/token",
                                       {"grant_type": JWT_GRANT,
                                        "assertion": self._credentials.jwt})
        if reply.status != 200:
            code, message = error_of(reply)
            raise AuthError(f"login refused: HTTP {reply.status} {code}: {message}. Check "
                            "RC_APP_CLIENT_ID, RC_APP_CLIENT_SECRET and RC_USER_JWT.")
        return self._keep(reply)

    async def _renew(self) -> str:
        """Refresh the token; when the refresh token is refused, present the JWT again."""
        token = self._token
        if token is not None and token.refresh and token.refresh_expires_at > self._clock():
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
            return await (self._renew() if token is not None else self.login())

    def _margin(self) -> float:
        return 60.0 if self._token is None else min(60.0, (self._token.expires_at -
                                                           self._clock()) / 10 + 1.0)

    async def _after_401(self, stale: str) -> None:
        async with self._lock:
            if self._token is not None and self._token.access == stale:
                await self._renew()

    async def revoke(self) -> None:
        token = self._token
        if token is not None:
            self._token = None
            await self._token_call("/restapi/oauth/revoke", {"token": token.access})

    # Requests --------------------------------------------------------------------------------

    async def _send(self, budget: RateBudget, method: str, path: str,
                    headers: Mapping[str, str], body: bytes | bytearray | None,
                    params: Mapping[str, Any] | None = None) -> Reply:
        await budget.acquire()
        try:
            reply = await self._transport.request(method, self.settings.server_url + path,
                                                  headers=headers, body=body, params=params)
        except BaseException:
            budget.release({})
            raise
        budget.release(reply.headers)
        self.requests += 1
        self._note_date(reply.headers.get("Date"))
        if reply.status == 429:
            self.throttled += 1
            budget.penalize(retry_after(reply.headers.get("Retry-After"),
                                        self.settings.rate_limit.default_retry_after))
        return reply

    def _note_date(self, header: str | None) -> None:
        if header:
            with contextlib.suppress(TypeError, ValueError):
                self.server_date = parsedate_to_datetime(header).timestamp()

    async def call(self, method: str, path: str, *, body: bytes | bytearray | None = None,
                   params: Mapping[str, Any] | None = None) -> Reply:
        """One request in the Light group; a 401 refreshes the token and tries once more
        (a 401 was not processed, so even a POST is safe to repeat). ``path`` is under the
        account's a2p-sms root unless it starts with /restapi/."""
        if not path.startswith("/restapi/"):
            path = self.a2p + path
        for attempt in range(2):
            token = await self.bearer()
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            reply = await self._send(self.light, method, path, headers, body, params)
            if reply.status != 401 or attempt:
                return reply
            await self._after_401(token)
        raise AssertionError("unreachable")

    async def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """A GET (idempotent, so retried on any transient failure); raises on a 4xx."""
        attempts = self.settings.retry.max_attempts
        for attempt in range(attempts):
            try:
                reply = await self.call("GET", path, params=params)
            except (NotSentError, AmbiguousSendError):
                if attempt == attempts - 1:
                    raise
                await self._pause(attempt)
                continue
            if reply.status < 300:
                return reply.json()
            if reply.status != 429 and reply.status < 500:
                code, message = error_of(reply)
                raise RequestRejectedError(reply.status, code, message)
            if reply.status != 429:
                await self._pause(attempt)
        raise ServerError(f"GET {path}: no good answer after {attempts} tries; the server is "
                          "failing. Run again later.")

    async def _pause(self, attempt: int) -> None:
        retry = self.settings.retry
        await self._sleep(backoff(attempt, retry.backoff_initial, retry.backoff_max, self._rng))

    async def batches(self, params: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Every batch a listing returns, page after page (up to 1000 a page)."""
        query = {"perPage": 1000, **params}
        while True:
            records, token = page_of(await self.get_json("/batches", query))
            for record in records:
                yield record
            if not token:
                return
            query["pageToken"] = token

    async def post_batch(self, body: bytes | bytearray) -> Reply:
        return await self.call("POST", "/batches", body=body)
