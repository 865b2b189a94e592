"""What RingCentral's API gateway does before a service sees a request: throttle,
authenticate, and (here) inject the per-request faults: latency, bursts of 429, tokens that
expire after some uses, resets, 5xx errors, and answers written in pieces.

Every fault draws from the simulator's seeded ``rng`` in a fixed order (latency, burst, reset,
error), and only when it is on: the same seed and the same requests give the same faults."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from wsgiref.handlers import format_date_time

from aiohttp import web

from engine.simulator.ratelimit import SlidingWindow, Verdict
from engine.simulator.replies import drop_connection, error_response, json_response, not_found
from engine.simulator.settings import FaultSettings
from engine.simulator.state import SIMULATOR, Simulator
from engine.simulator.store import RequestError
from engine.simulator.views import error_body

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


API = ("/restapi/v1.0/", "/restapi/v2/")  # what needs a token (not /restapi/oauth/)


def in_fault_scope(request: web.Request, faults: FaultSettings) -> bool:
    """Whether the faults apply: every API call, v1.0 and the v2 consents (scope ``a2p``),
    or batch POSTs only (``send``)."""
    if not request.path.startswith(API):
        return False
    return faults.scope == "a2p" or (request.method == "POST" and "/a2p-sms/batch" in request.path)


@web.middleware
async def gateway(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Throttle, authenticate and inject faults into every /restapi request."""
    sim = request.app[SIMULATOR]
    if not request.path.startswith("/restapi/"):
        return await handler(request)
    faults = sim.faults
    in_scope = in_fault_scope(request, faults)
    if in_scope and (faults.latency or faults.latency_jitter):
        await sim.sleep(faults.latency + sim.rng.random() * faults.latency_jitter)
    window = sim.auth if request.path.startswith("/restapi/oauth/") else sim.light
    verdict = window.hit(sim.now())
    limited = _throttle(sim, window, verdict, in_scope)
    if limited is not None:
        sim.stats["429"] += 1
        limited.headers["Date"] = format_date_time(sim.now() + faults.date_skew)
        return limited
    response = await _authenticated(request, handler, sim, in_scope)
    response.headers.update(window.headers(verdict))
    # the server's clock, skew and all; date_skew: the gateway's clock is another one
    response.headers["Date"] = format_date_time(sim.now() + faults.date_skew)
    sim.stats[str(response.status)] += 1
    if faults.answer_piece and isinstance(response, web.Response) and response.body:
        return await _in_pieces(request, response, faults)
    return response


def _throttle(sim: Simulator, window: SlidingWindow, verdict: Verdict, in_scope: bool
              ) -> web.Response | None:
    """The 429 of an exhausted window, or of a burst the faults start; None to go on."""
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
    if not request.path.startswith(API):
        return _unrouted(request) or await handler(request)
    refused = _refused_token(request, sim)
    if refused is not None:
        return refused
    if in_scope and sim.chance(sim.faults.reset_rate):
        sim.stats["reset"] += 1
        return drop_connection(request)
    if in_scope and sim.chance(sim.faults.error_rate):
        status = sim.rng.choice(sim.faults.error_statuses)
        return error_response(status, "CMN-203" if status == 500 else "CMN-211",
                              "Simulated server failure")
    unrouted = _unrouted(request)
    if unrouted is not None:
        return unrouted
    if request.match_info.get("accountId") not in ("~", sim.settings.account_id):
        return not_found("accountId")
    return await handler(request)


def _unrouted(request: web.Request) -> web.Response | None:
    """No such path, or no such method on it: said in RingCentral's error shape (not as an
    unknown ``accountId``, which the path may well name rightly)."""
    unrouted = request.match_info.http_exception
    if unrouted is None:
        return None
    refused = error_response(unrouted.status, "CMN-102" if unrouted.status == 404 else "CMN-101",
                             f"{unrouted.reason}: {request.method} {request.path}")
    if "Allow" in unrouted.headers:
        refused.headers["Allow"] = unrouted.headers["Allow"]
    return refused


def _refused_token(request: web.Request, sim: Simulator) -> web.Response | None:
    """The 401 for a missing, unknown or expired access token (expired early too, after
    ``expire_after_requests`` uses); None when the token is good, counting this use."""
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
    return None


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


@web.middleware
async def request_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A handler's RequestError answered in RingCentral's error shape; every answer names
    its request in ``RCRequestId``, as RingCentral's do (what support asks for)."""
    try:
        response = await handler(request)
    except RequestError as exc:
        response = error_response(exc.status, exc.code, exc.message, exc.parameter)
    if not response.prepared:
        response.headers.setdefault("RCRequestId", str(uuid.uuid4()))
    return response
