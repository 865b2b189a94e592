"""RingCentral API client: the shared rate budgets and the A2P calls (the batch POST, the GETs
and listings), each answer read by the one retry policy; the OAuth session is engine/rc/auth.py.
Reaches HTTP only through a Transport; takes its clock and sleep as parameters."""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, BinaryIO

import anyio

from engine.batching.chunker import Body
from engine.config.credentials import Credentials
from engine.config.settings import Settings
from engine.core.paging import PageWalk
from engine.core.policy import (
    MAX_REFRESHES,
    Action,
    Kind,
    asked_wait,
    classify,
    decide,
    retry_after_note,
    unanswered,
)
from engine.core.reconcile import SentAt
from engine.errors import (
    AmbiguousSendError,
    AuthServiceError,
    EngineError,
    NotSentError,
    RequestRejectedError,
    ServerError,
)
from engine.rc.auth import Session
from engine.rc.ratebudget import RateBudget
from engine.rc.transport import Downloads, Reply, Transport, error_of, page_of

log = logging.getLogger("engine.http")
# What -v shows of an answer: RingCentral's rate-limit headers (never a body or a token).
RATE_HEADERS = ("X-Rate-Limit-Group", "X-Rate-Limit-Limit", "X-Rate-Limit-Remaining",
                "X-Rate-Limit-Window", "Retry-After")


class ApiClient:
    def __init__(self, settings: Settings, credentials: Credentials, transport: Transport, *,
                 clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]],
                 rng: random.Random | None = None,
                 wall: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._transport = transport
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._rules = settings.retry
        limits = settings.rate_limit
        self.light = RateBudget("Light", limits.light_requests, limits.light_window, clock, sleep)
        self.auth = RateBudget("Auth", limits.auth_requests, limits.auth_window, clock, sleep)
        self.account = f"/restapi/v1.0/account/{settings.account}"
        self.a2p = f"{self.account}/a2p-sms"
        self.session = Session(settings.server_url, credentials, self.auth, self._send,
                               self.asked_wait, rules=self._rules, clock=clock,
                               pause=self._pause, rng=self._rng)
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

    # OAuth: the session's ------------------------------------------------------------------

    async def login(self) -> str:
        """A new session from the JWT (``Session.login``)."""
        return await self.session.login()

    async def bearer(self) -> str:
        """A valid access token (``Session.bearer``)."""
        return await self.session.bearer()

    async def revoke(self) -> None:
        """End the session (``Session.revoke``); never raises."""
        await self.session.revoke()

    # Requests --------------------------------------------------------------------------------

    async def _send(self, budget: RateBudget, method: str, path: str,
                    headers: Mapping[str, str], body: Body | None,
                    params: Mapping[str, Any] | None = None, creates: bool = False,
                    into: BinaryIO | None = None) -> Reply:
        await budget.acquire(self.stop if creates else None)
        started = self._clock()
        try:
            reply = await self._exchange(method, self.settings.server_url + path, headers,
                                         body, params, into)
        except BaseException as exc:
            budget.release({})
            took = self._clock() - started
            log.debug("%s %s -> %s after %.3f s", method, path, type(exc).__name__, took,
                      extra={"http": {"method": method, "path": path, "status": None,
                                      "error": type(exc).__name__,
                                      "duration": round(took, 3)}})
            raise
        budget.release(reply.headers)
        if log.isEnabledFor(logging.DEBUG):
            # the path and headers only: never a body (numbers, texts) nor a token
            took = self._clock() - started
            request_id = reply.headers.get("RCRequestId")
            limits = " ".join(f"{name}={reply.headers[name]}" for name in RATE_HEADERS
                              if name in reply.headers)
            log.debug("%s %s -> %d in %.3f s %s%s", method, path, reply.status, took, limits,
                      f" RCRequestId={request_id}" if request_id else "",
                      extra={"http": {"method": method, "path": path,
                                      "status": reply.status, "RCRequestId": request_id,
                                      "duration": round(took, 3)}})
        self.requests += 1
        self._note_date(reply.headers.get("Date"))
        if reply.status == 429:
            self.throttled += 1
        wait = self.asked_wait(reply)
        if wait is not None:  # a 429, or a 503 saying when to come back
            note = retry_after_note(reply.headers.get("Retry-After"))
            if note is not None:  # said once per answer, where the budget is held
                log.warning("HTTP %s: %s", reply.status, note)
            budget.penalize(wait)
        return reply

    async def _exchange(self, method: str, url: str, headers: Mapping[str, str],
                        body: Body | None, params: Mapping[str, Any] | None,
                        into: BinaryIO | None) -> Reply:
        """The request; with ``into``, a 2xx answer's body goes to that file (from the start,
        whatever an earlier attempt left there), through the transport's ``download`` when it
        has one (the consent export outgrows what an answer may hold in memory)."""
        if into is None:
            return await self._transport.request(method, url, headers=headers, body=body,
                                                 params=params)
        into.seek(0)
        into.truncate()
        if isinstance(self._transport, Downloads):
            return await self._transport.download(method, url, headers=headers, into=into,
                                                  params=params)
        reply = await self._transport.request(method, url, headers=headers, body=body,
                                              params=params)
        if 200 <= reply.status < 300:
            into.write(reply.body)
            return Reply(reply.status, reply.headers)
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

    def sent_at(self) -> SentAt:
        """Now, as the moment a request goes out: our clock, with the creation clock's offset
        when a creationTime has calibrated it, and the Date header's as a guess."""
        return SentAt(self._wall(), self._creation_offset, self._server_offset)

    @property
    def date_offset(self) -> float | None:
        """The server's clock minus ours from the last Date header (None: none read yet)."""
        return None if self.server_date is None else self._server_offset

    @property
    def creation_offset(self) -> float | None:
        """The backend's creation clock minus ours (None until a creationTime was read)."""
        return self._creation_offset

    def server_now(self) -> float:
        """The server's clock (epoch seconds): the earlier of what its last Date header and
        its last batch creationTime say, since listings filter on creationTime and a
        ``dateFrom`` too early only widens the search."""
        offsets = [self._server_offset] + [o for o in (self._creation_offset,) if o is not None]
        return self._wall() + min(offsets)

    async def call(self, method: str, path: str, *, body: Body | None = None,
                   params: Mapping[str, Any] | None = None, creates: bool = False,
                   headers: Mapping[str, str] | None = None,
                   into: BinaryIO | None = None) -> Reply:
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
            sent = {"Authorization": f"Bearer {token}", "Accept": "application/json",
                    **(headers or {})}
            if body is not None:
                sent["Content-Type"] = "application/json"
            try:
                reply = await self._send(self.light, method, path, sent, body, params,
                                         creates, into)
            except AmbiguousSendError:
                self.session.served(token)  # it went out and may have served: not a fresh refusal
                raise
            step = decide(classify(reply.status, kind), attempt, kind=kind,
                          may_refresh=attempt <= MAX_REFRESHES)
            if reply.status != 401:
                self.session.served(token)  # any other answer: not a token refused as issued
            if step.action is Action.REFRESH:
                await self.session.after_401(token)
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
        return (await self.read("GET", path, params=params)).json()

    async def read(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                   body: bytes | None = None, headers: Mapping[str, str] | None = None,
                   not_modified: bool = False, into: BinaryIO | None = None) -> Reply:
        """A request that changes nothing (a GET, or a search POST), so retried on any
        transient failure; raises on a 4xx. ``not_modified``: a 304 (an If-None-Match that
        matched) is an answer too. ``into``: a file a 2xx answer's body is written to (the
        Reply's body then empty), for an answer too large to hold in memory."""
        started = self._clock()
        for attempt in itertools.count(1):
            failure: EngineError | None = None
            try:
                reply = await self.call(method, path, params=params, body=body,
                                        headers=headers, into=into)
                if not_modified and reply.status == 304:
                    return reply
                verdict, wait = classify(reply.status, Kind.READ), self.asked_wait(reply)
            except (NotSentError, AmbiguousSendError) as exc:
                failure, wait = exc, None
                verdict = unanswered(isinstance(exc, AmbiguousSendError), Kind.READ)
            step = decide(verdict, attempt, self._clock() - started, wait, kind=Kind.READ,
                          rules=self._rules, rng=self._rng)
            if step.action is Action.DONE:
                return reply
            if step.action is Action.FAIL:
                code, message = error_of(reply)
                raise RequestRejectedError(reply.status, code, message)
            if step.action is Action.GIVE_UP:
                if failure is not None:
                    raise failure
                if reply.status == 429:
                    raise ServerError(
                        f"{method} {path}: rate limited (429) {attempt} times in a row: "
                        "another process using this account's Light budget (a send, an "
                        "outcomes, a script) may be taking it. Run again when it is done; an "
                        "outcomes export picks up where it stopped.")
                raise ServerError(f"{method} {path}: no good answer after {attempt} tries; "
                                  "the server is failing. Run again later.")
            await self._pause(step.delay)
        raise AssertionError("unreachable")

    def asked_wait(self, reply: Reply) -> float | None:
        """The wait the answer asked for (a 429, or a 503 with Retry-After: the policy says
        which, ``policy.holds_back``), which the rate budget holds; None for any other
        answer. Every request path reads Retry-After through here."""
        return asked_wait(reply.status, reply.headers.get("Retry-After"),
                          self.settings.rate_limit.default_retry_after)

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

    async def post_batch(self, body: Body) -> Reply:
        return await self.call("POST", "/batches", body=body, creates=True)
