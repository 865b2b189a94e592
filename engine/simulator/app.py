"""The simulated RingCentral High Volume SMS API as an aiohttp application.

Paths, status codes and bodies follow reference/ringcentral-a2p-openapi.json; behaviour the
sources leave open is listed under "Simulator assumptions" in the README.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from wsgiref.handlers import format_date_time

import orjson
from aiohttp import web

from engine.rc import basicauth
from engine.simulator import numbers
from engine.simulator.ratelimit import SlidingWindow, Verdict
from engine.simulator.settings import FaultSettings, SimulatorSettings, faults_from_mapping
from engine.simulator.store import Batch, RequestError, Store, invalid_parameter
from engine.simulator.views import (
    batch_view,
    error_body,
    message_view,
    oauth_error,
    statuses_view,
)

FORM = "application/x-www-form-urlencoded"
OTHER_CAMPAIGN = "Another campaign from the same number"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
A2P = "/restapi/v1.0/account/{accountId}/a2p-sms"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Simulator:
    """Everything one running simulator holds; tests reach it through ``app[SIMULATOR]``."""

    settings: SimulatorSettings
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    store: Store = field(init=False)
    faults: FaultSettings = field(init=False)
    stats: Counter[str] = field(default_factory=Counter)
    backlog: set[asyncio.Future[None]] = field(default_factory=set)
    # store_lag: per (batch, lag), message indexes by when they appear, and those times
    _store_order: dict[tuple[str, float], tuple[list[int], list[float]]] = field(
        default_factory=dict)

    def __post_init__(self) -> None:
        self.store = Store(self.settings)
        self.light = SlidingWindow("Light", self.settings.light)
        self.auth = SlidingWindow("Auth", self.settings.auth)
        self.set_faults(self.settings.faults)

    def set_faults(self, faults: FaultSettings) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self.burst_left = 0
        self.token_errors_left = faults.token_error_count
        self.token_uses: Counter[str] = Counter()
        self.faults_set_at = self.clock()

    def in_outage(self) -> bool:
        """The outage fault is on and has not healed yet."""
        faults = self.faults
        return faults.outage_status > 0 and (
            faults.outage_for <= 0 or self.clock() - self.faults_set_at < faults.outage_for)

    def chance(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    def now(self) -> float:
        """The server's clock: the injected one, off by the configured skew."""
        return self.clock() + self.faults.clock_skew

    def later(self, delay: float, action: Callable[[], None]) -> None:
        """Do ``action`` after ``delay`` seconds, as a backend that outlives its answer."""
        async def run() -> None:
            await self.sleep(delay)
            action()

        task = asyncio.ensure_future(run())
        self.backlog.add(task)
        task.add_done_callback(self.backlog.discard)

    def listed(self, batch: Batch, now: float) -> bool:
        return now - batch.created >= self.faults.listing_lag

    def in_store(self, batch: Batch, now: float) -> list[int]:
        """With store_lag: the batch's messages the store lists by ``now``, in the order they
        appeared there (so a later page never shifts an earlier one)."""
        lag = self.faults.store_lag
        key = (batch.id, lag)
        known = self._store_order.get(key)
        if known is None:
            rng = random.Random(f"{self.faults.seed}:{batch.id}")
            appear = [(i + 1) / batch.rate + lag * rng.random() for i in range(batch.size)]
            order = sorted(range(batch.size), key=appear.__getitem__)
            known = self._store_order[key] = (order, [appear[i] for i in order])
        indexes, times = known
        return indexes[:bisect_right(times, now - batch.created)]


SIMULATOR = web.AppKey("simulator", Simulator)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, headers=headers,
                        content_type="application/json")


def error_response(status: int, code: str, message: str, parameter: str | None = None
                   ) -> web.Response:
    return json_response(error_body(code, message, parameter), status)


GATEWAY_PAGE = ("<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
                "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
                "</body>\r\n</html>\r\n")
GATEWAY_REASONS = {500: "Internal Server Error", 502: "Bad Gateway",
                   503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


def gateway_error(sim: Simulator, status: int) -> web.Response:
    """A 5xx as the gateway in front of the service gives it: RingCentral's JSON error, or a
    load balancer's HTML page (``gateway_html_rate`` of them), with Retry-After when
    configured."""
    faults = sim.faults
    headers = {"Retry-After": str(faults.gateway_retry_after)} \
        if faults.gateway_retry_after else None
    if sim.chance(faults.gateway_html_rate):
        page = GATEWAY_PAGE.format(status=status,
                                   reason=GATEWAY_REASONS.get(status, "Server Error"))
        return web.Response(text=page, status=status, headers=headers,
                            content_type="text/html")
    code = "CMN-203" if status == 500 else "CMN-211"
    return json_response(error_body(code, "Service temporarily unavailable"), status, headers)


def drop_connection(request: web.Request) -> web.Response:
    """Close the socket with no answer: the client sees a reset or a disconnect."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=500)  # never reaches the client


@web.middleware
async def gateway(request: web.Request, handler: Handler) -> web.StreamResponse:
    """What RingCentral's API gateway does before a service sees the request: throttle,
    authenticate, and (here) inject the configured faults."""
    sim = request.app[SIMULATOR]
    if not request.path.startswith("/restapi/"):
        return await handler(request)
    faults = sim.faults
    in_scope = _in_fault_scope(request, faults)
    if in_scope and (faults.latency or faults.latency_jitter):
        await sim.sleep(faults.latency + sim.rng.random() * faults.latency_jitter)
    window = sim.auth if request.path.startswith("/restapi/oauth/") else sim.light
    verdict = window.hit(sim.now())
    limited = _throttle(sim, window, verdict, in_scope)
    if limited is not None:
        sim.stats["429"] += 1
        limited.headers["Date"] = format_date_time(sim.now())
        return limited
    response = await _authenticated(request, handler, sim, in_scope)
    response.headers.update(window.headers(verdict))
    response.headers["Date"] = format_date_time(sim.now())  # the server's clock, skew and all
    sim.stats[str(response.status)] += 1
    if faults.answer_piece and isinstance(response, web.Response) and response.body:
        return await _in_pieces(request, response, faults)
    return response


async def _in_pieces(request: web.Request, answer: web.Response, faults: FaultSettings
                     ) -> web.StreamResponse:
    """Write the answer in small pieces with pauses, as a large answer arrives over a real
    network: the client must read to the end, not take the first read for the whole."""
    body = answer.body
    assert isinstance(body, bytes)
    sim = request.app[SIMULATOR]
    response = web.StreamResponse(status=answer.status, headers=answer.headers)
    response.headers.pop("Content-Length", None)
    await response.prepare(request)
    for start in range(0, len(body), faults.answer_piece):
        await response.write(body[start:start + faults.answer_piece])
        await sim.sleep(faults.answer_pause)
    await response.write_eof()
    return response


def _in_fault_scope(request: web.Request, faults: FaultSettings) -> bool:
    if not request.path.startswith("/restapi/v1.0/"):
        return False
    return faults.scope == "a2p" or (request.method == "POST" and "/a2p-sms/batch" in request.path)


def _throttle(sim: Simulator, window: SlidingWindow, verdict: Verdict, in_scope: bool
              ) -> web.Response | None:
    retry_after = verdict.retry_after
    if verdict.allowed and in_scope and sim.burst_left == 0 and sim.chance(sim.faults.burst_rate):
        sim.burst_left = sim.faults.burst_length
    if verdict.allowed and sim.burst_left > 0 and in_scope:
        sim.burst_left -= 1
        retry_after = sim.faults.burst_retry_after
    elif verdict.allowed:
        return None
    headers = window.headers(verdict)
    if sim.settings.retry_after_header:
        headers["Retry-After"] = str(retry_after)
    body = error_body("CMN-301", f"Request rate exceeded for group {window.name}.")
    return json_response(body, 429, headers)


async def _authenticated(request: web.Request, handler: Handler, sim: Simulator, in_scope: bool
                         ) -> web.StreamResponse:
    if not request.path.startswith("/restapi/v1.0/"):
        return await handler(request)
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ""
    session = sim.store.session_for(token) if token else None
    if session is None:
        return error_response(401, "AGW-402", "Invalid Authorization header")
    if session.access_expires <= sim.now():
        return error_response(401, "OAU-128", "Access token expired")
    if sim.faults.expire_after_requests:
        if sim.token_uses[token] >= sim.faults.expire_after_requests:
            sim.stats["token_expired"] += 1
            return error_response(401, "OAU-128", "Access token expired")
        sim.token_uses[token] += 1
    if in_scope and sim.chance(sim.faults.reset_rate):
        sim.stats["reset"] += 1
        return drop_connection(request)
    if in_scope and sim.chance(sim.faults.error_rate):
        status = sim.rng.choice(sim.faults.error_statuses)
        return error_response(status, "CMN-203" if status == 500 else "CMN-211",
                              "Simulated server failure")
    if request.match_info.get("accountId") not in ("~", sim.settings.account_id):
        return error_response(404, "CMN-102", "Resource for parameter [accountId] is not found.")
    return await handler(request)


# OAuth -------------------------------------------------------------------------------------

def _client_ok(request: web.Request, sim: Simulator) -> bool:
    expected = sim.settings.credentials
    given = basicauth.decode(request.headers.get("Authorization", ""))
    return given == (expected.client_id, expected.client_secret)


def _token_fault(request: web.Request, sim: Simulator) -> web.Response | None:
    """A token endpoint that fails (JSON or a gateway's HTML page) or drops the connection:
    the first ``token_error_count`` calls, then each with ``token_error_rate``."""
    faults = sim.faults
    if sim.token_errors_left > 0:
        sim.token_errors_left -= 1
    elif not sim.chance(faults.token_error_rate):
        return None
    sim.stats["token_error"] += 1
    status = sim.rng.choice(faults.token_error_statuses or (503,))
    if status == 0:
        return drop_connection(request)
    if faults.token_error_html:
        return web.Response(status=status, content_type="text/html",
                            text=f"<html><body><h1>{status}</h1>The server is temporarily "
                                 "unable to service your request.</body></html>")
    return error_response(status, "CMN-211", "Simulated token endpoint failure")


async def token(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    fault = _token_fault(request, sim)
    if fault is not None:
        return fault
    if request.content_type != FORM:
        return error_response(415, "CMN-415", f"Content type must be {FORM}")
    form = await request.post()
    if not _client_ok(request, sim):
        body = oauth_error("invalid_client", "OAU-123", "Client authentication is required")
        return json_response(body, 401)
    now = sim.now()
    ttl = _access_ttl(form.get("access_token_ttl"), sim)
    grant = form.get("grant_type")
    if grant == JWT_GRANT:
        if form.get("assertion") != sim.settings.credentials.jwt:
            return json_response(oauth_error("invalid_grant", "OAU-140", "Invalid token"), 400)
        session = sim.store.new_session(now, ttl)
    elif grant == "refresh_token":
        if sim.chance(sim.faults.refresh_refused_rate):
            sim.stats["refresh_refused"] += 1
            return json_response(oauth_error("invalid_grant", "OAU-211", "Token is revoked"), 400)
        refreshed = sim.store.refresh(str(form.get("refresh_token", "")), now, ttl)
        if refreshed is None:
            return json_response(oauth_error("invalid_grant", "OAU-211", "Token is revoked"), 400)
        session = refreshed
    else:
        body = oauth_error("unsupported_grant_type", "OAU-250", f"Unsupported grant type {grant!r}")
        return json_response(body, 400)
    return json_response(_token_info(sim, session.id, ttl, session.access_token,
                                     session.refresh_token, now, session))


def _access_ttl(requested: object, sim: Simulator) -> float:
    ttl = float(sim.settings.access_token_ttl)
    if isinstance(requested, str) and requested.isdigit():
        ttl = min(ttl, float(requested))
    return ttl


def _token_info(sim: Simulator, session_id: str, ttl: float, access: str, refresh: str,
                now: float, session: Any) -> dict[str, Any]:
    if sim.chance(sim.faults.early_expiry_rate):
        # Expires early while the answer still promises the full TTL.
        session.access_expires = now + sim.faults.early_expiry
    return {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": int(ttl),
        "refresh_token": refresh,
        "refresh_token_expires_in": sim.settings.refresh_token_ttl,
        "scope": "A2PSMS ReadAccounts SMS",
        "owner_id": sim.settings.owner_id,
        "endpoint_id": "simulator",
        "session_id": session_id,
    }


async def revoke(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    if not _client_ok(request, sim):
        body = oauth_error("invalid_client", "OAU-123", "Client authentication is required")
        return json_response(body, 401)
    form = await request.post()
    sim.store.revoke(str(form.get("token") or request.query.get("token", "")))
    return web.Response(status=200)


# A2P SMS -----------------------------------------------------------------------------------

async def read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or None as soon as it passes ``limit``: never more than that in memory."""
    if request.content_length is not None and request.content_length > limit:
        return None
    buffer = bytearray()
    async for chunk in request.content.iter_any():
        buffer += chunk
        if len(buffer) > limit:
            return None
    return bytes(buffer)


async def create_batch(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    raw = await read_limited(request, sim.settings.max_body_bytes)
    if raw is None:
        sim.stats["413"] += 1
        return error_response(413, "AGW-413", "Request entity too large")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return error_response(400, "CMN-104", "Cannot parse request")
    del raw
    now = sim.now()
    in_scope = _in_fault_scope(request, sim.faults)
    if in_scope and sim.in_outage():  # the gateway answers; the backend never sees it
        sim.stats["outage"] += 1
        return gateway_error(sim, sim.faults.outage_status)
    if in_scope and sim.chance(sim.faults.late_create_rate):
        return _create_late(request, sim, body)
    try:
        batch, rejected = sim.store.create_batch(body, now)
    except RequestError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.parameter)
    if in_scope:
        _other_campaigns(sim, body, now)
    if in_scope and sim.chance(sim.faults.accept_drop_rate):
        sim.stats["accept_drop"] += 1
        return drop_connection(request)
    if in_scope and sim.chance(sim.faults.error_after_create_rate):
        sim.stats["error_after_create"] += 1
        return gateway_error(sim, sim.rng.choice(sim.faults.error_after_create_statuses))
    if in_scope and sim.chance(sim.faults.hold_answer_rate):
        sim.stats["held_answer"] += 1
        await sim.sleep(sim.faults.hold_answer)  # the client may have stopped waiting
    return json_response(batch_view(batch, now, sim.settings.price_per_segment, rejected), 201)


def _create_late(request: web.Request, sim: Simulator, body: Any) -> web.Response:
    """The gateway gives up (504, or the connection drops) while the backend goes on and
    creates the batch seconds later."""
    sim.stats["late_create"] += 1

    def create() -> None:
        with contextlib.suppress(RequestError):
            sim.store.create_batch(body, sim.now())

    sim.later(sim.faults.late_create_delay, create)
    if sim.faults.late_create_drop:
        return drop_connection(request)
    return error_response(504, "CMN-211", "Gateway timeout")


def _other_campaigns(sim: Simulator, body: Any, now: float) -> None:
    """Another campaign from the same sender to part of the same list, with another text,
    created at the same moment: a reconciliation must never take it for ours."""
    messages = body.get("messages") if isinstance(body, dict) else None
    for k in range(sim.faults.other_campaigns if isinstance(messages, list) else 0):
        assert isinstance(messages, list)
        part = [{"to": m.get("to")} for m in messages[: max(1, len(messages) // (k + 2))]
                if isinstance(m, dict)]
        with contextlib.suppress(RequestError):
            sim.store.create_batch({"from": body.get("from"), "text": OTHER_CAMPAIGN,
                                    "messages": part}, now)


async def read_batch(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    batch = sim.store.batch(request.match_info["batchId"])
    if batch is None:
        return error_response(404, "CMN-102", "Resource for parameter [batchId] is not found.")
    return json_response(batch_view(batch, sim.now(), sim.settings.price_per_segment))


def _time_range(request: web.Request, now: float) -> tuple[float, float]:
    """dateFrom and dateTo as the spec defines them: dateTo defaults to now, dateFrom to
    dateTo minus 24 hours."""
    date_to = _parse_time(request, "dateTo", now)
    return _parse_time(request, "dateFrom", date_to - 86400.0), date_to


def _parse_time(request: web.Request, name: str, default: float) -> float:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return datetime.fromisoformat(raw).timestamp()
    except ValueError:
        raise invalid_parameter(name, "Use ISO 8601 with a time zone.") from None


def _paging(request: web.Request) -> tuple[int, int]:
    try:
        per_page = int(request.query.get("perPage", "100"))
        start = int(request.query.get("pageToken", "0"))
    except ValueError:
        raise invalid_parameter("pageToken") from None
    if not 1 <= per_page <= 1000 or start < 0:
        raise invalid_parameter("perPage", "Use 1 to 1000.")
    cap = request.app[SIMULATOR].faults.page_cap
    return start, min(per_page, cap) if cap else per_page


def _page(start: int, per_page: int, total: int) -> dict[str, Any]:
    paging: dict[str, Any] = {"perPage": per_page, "pageToken": str(start)}
    if start + per_page < total:
        paging["nextPageToken"] = str(start + per_page)
    if start > 0:
        paging["previousPageToken"] = str(max(0, start - per_page))
        paging["firstPageToken"] = "0"
    return paging


async def list_batches(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    now = sim.now()
    date_from, date_to = _time_range(request, now)
    start, per_page = _paging(request)
    sender = request.query.get("from")
    statuses = set(request.query.getall("status", []))
    price = sim.settings.price_per_segment
    views = [batch_view(b, now, price) for b in sim.store.batches
             if date_from <= b.created <= date_to and (sender is None or b.sender == sender)
             and sim.listed(b, now)]
    views = [v for v in views if not statuses or v["status"] in statuses]
    return json_response({"records": views[start:start + per_page],
                          "paging": _page(start, per_page, len(views))})


async def list_messages(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    now = sim.now()
    start, per_page = _paging(request)
    batches = _filtered_batches(request, sim, now)
    detailed = request.query.get("view") == "Detailed"
    if sim.faults.messages_after_start:
        batches = [b for b in batches if b.processed(now) > 0]
    records: list[dict[str, Any]] = []
    skip = start
    total = 0
    for batch in batches:
        listed = sim.in_store(batch, now) if sim.faults.store_lag else None
        size = batch.size if listed is None else len(listed)
        total += size
        if skip >= size or len(records) == per_page:
            skip = max(0, skip - size)
            continue
        take = range(skip, min(size, skip + per_page - len(records)))
        records.extend(message_view(batch, _order(sim, batch, i) if listed is None
                                    else listed[i], now, sim.settings.price_per_segment,
                                    detailed) for i in take)
        skip = 0
    return json_response({"records": records, "paging": _page(start, per_page, total)})


def _order(sim: Simulator, batch: Batch, i: int) -> int:
    """With messages_after_start, a batch's messages are listed in another order than the
    request's (reversed in pairs of halves: deterministic, so pages never overlap)."""
    if not sim.faults.messages_after_start:
        return i
    half = (batch.size + 1) // 2
    return half + i if i < batch.size - half else i - (batch.size - half)


def _filtered_batches(request: web.Request, sim: Simulator, now: float) -> list[Any]:
    batch_id = request.query.get("batchId")
    if batch_id is not None:
        batch = sim.store.batch(batch_id)
        return [batch] if batch is not None else []
    date_from, date_to = _time_range(request, now)
    phone = request.query.get("phoneNumber")
    return [b for b in sim.store.batches
            if date_from <= b.created <= date_to and (phone is None or b.sender == phone)]


async def read_message(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    raw = request.match_info["messageId"]
    found = sim.store.message(int(raw)) if raw.isdigit() else None
    if found is None:
        return error_response(404, "CMN-102", "Resource for parameter [messageId] is not found.")
    batch, i = found
    view = message_view(batch, i, sim.now(), sim.settings.price_per_segment, True, alone=True)
    return json_response(view)


async def statuses(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    now = sim.now()
    batches = _filtered_batches(request, sim, now)
    return json_response(statuses_view(batches, now, sim.settings.price_per_segment))


# Test and operator hooks, outside /restapi ----------------------------------------------------

async def ledger(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    entries = [list(entry) for entry in sim.store.ledger()]
    return json_response({"count": len(entries), "entries": entries})


async def stats(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    return json_response({"accepted": sim.store.accepted_count(),
                          "batches": len(sim.store.batches), "responses": dict(sim.stats)})


async def put_faults(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    try:
        sim.set_faults(faults_from_mapping(orjson.loads(await request.read())))
    except (orjson.JSONDecodeError, ValueError) as exc:
        return error_response(400, "CMN-101", str(exc), "faults")
    return json_response({"faults": "updated"})


@web.middleware
async def request_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.parameter)


# Phone numbers (the pre-flight) ------------------------------------------------------------

def _own_numbers(request: web.Request) -> list[dict[str, Any]] | None:
    """The user's numbers, or None when the path names another extension."""
    sim = request.app[SIMULATOR]
    if request.match_info["extensionId"] not in ("~", sim.settings.owner_id):
        return None
    base = f"{request.scheme}://{request.host}" + numbers.EXTENSION.format(
        accountId=sim.settings.account_id, extensionId=sim.settings.owner_id)
    return numbers.number_records(sim.settings, base)


async def list_phone_numbers(request: web.Request) -> web.Response:
    records = _own_numbers(request)
    if records is None:
        return error_response(404, "CMN-102", "Resource for parameter [extensionId] is not found.")
    page, per_page = numbers.page_params(request)
    return json_response(numbers.page_view(records, page, per_page, numbers.url_of(request)))


async def sms_configuration(request: web.Request) -> web.Response:
    records = _own_numbers(request) or []
    wanted = request.match_info["phoneNumberId"]
    found = [r for r in records if str(r["id"]) == wanted]
    if not found:
        return error_response(404, "CMN-102",
                              "Resource for parameter [phoneNumberId] is not found.")
    return json_response(numbers.sms_configuration_view(request.app[SIMULATOR].settings,
                                                        found[0]))


def create_app(settings: SimulatorSettings, clock: Callable[[], float] = time.time
               ) -> web.Application:
    """The simulator as an aiohttp application; ``app[SIMULATOR]`` is its state."""
    app = web.Application(middlewares=[gateway, request_errors],
                          client_max_size=settings.max_body_bytes + 1)
    app[SIMULATOR] = Simulator(settings, clock)
    r = app.router
    r.add_post("/restapi/oauth/token", token)
    r.add_post("/restapi/oauth/revoke", revoke)
    r.add_post(f"{A2P}/batches", create_batch)
    r.add_post(f"{A2P}/batch", create_batch)  # the 2020 guide's path
    r.add_get(f"{A2P}/batches", list_batches)
    r.add_get(f"{A2P}/batches/{{batchId}}", read_batch)
    r.add_get(f"{A2P}/messages", list_messages)
    r.add_get(f"{A2P}/messages/{{messageId}}", read_message)
    r.add_get(f"{A2P}/statuses", statuses)
    r.add_get(numbers.EXTENSION, list_phone_numbers)
    r.add_get(f"{numbers.EXTENSION}/{{phoneNumberId}}/sms-configuration", sms_configuration)
    r.add_get("/_sim/ledger", ledger)
    r.add_get("/_sim/stats", stats)
    r.add_put("/_sim/faults", put_faults)
    return app
