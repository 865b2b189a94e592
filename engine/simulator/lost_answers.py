"""The faults around a batch POST the gateway let through, the ways a large service loses an
answer while the batch exists or will: an outage (nothing created), a batch created seconds
after a 504 or a dropped connection, a connection dropped or a gateway's 5xx after the batch
was created, a 201 held past the client's timeout; and, beside each batch, other campaigns
from the same sender that a reconciliation must never take for ours.

A gateway can also answer what no backend said: its own 4xx page (408, or a 403/404 during a
deploy), an unreadable 2xx (an HTML 200 page, or a 201 cut short), a Date from its own clock
(gateway.py), or a 201 with another batch's body.

The seeded draws come in this order, each only when its fault is on: late creation, gateway
4xx (its status), unreadable 2xx (its kind), then (after the batch exists) dropped answer, 5xx
after creation (its status, then its HTML share), held answer, replayed answer."""

from __future__ import annotations

import contextlib
from typing import Any

from aiohttp import web

from engine.simulator.gateway import in_fault_scope
from engine.simulator.replies import drop_connection, error_response, json_response
from engine.simulator.state import Simulator
from engine.simulator.store import RequestError
from engine.simulator.views import error_body

OTHER_CAMPAIGN = "Another campaign from the same number"
GATEWAY_PAGE = ("<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
                "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
                "</body>\r\n</html>\r\n")
GATEWAY_REASONS = {500: "Internal Server Error", 502: "Bad Gateway",
                   503: "Service Temporarily Unavailable", 504: "Gateway Time-out",
                   200: "Down for maintenance", 403: "Forbidden", 404: "Not Found",
                   408: "Request Time-out"}
TRUNCATED = "truncated"  # request key: the 201 of this request is cut short


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


def before_create(request: web.Request, sim: Simulator, body: Any) -> web.Response | None:
    """The answer when the backend does not create the batch now (an outage, or a creation
    that comes later); None to create it."""
    if not in_fault_scope(request, sim.faults):
        return None
    if sim.in_outage():  # the gateway answers; the backend never sees it
        sim.stats["outage"] += 1
        return gateway_error(sim, sim.faults.outage_status)
    if sim.chance(sim.faults.late_create_rate):
        return _create_late(request, sim, body)
    if sim.chance(sim.faults.gateway_4xx_rate):
        sim.stats["gateway_4xx"] += 1
        return _page(sim.rng.choice(sim.faults.gateway_4xx_statuses))
    if sim.chance(sim.faults.unreadable_2xx_rate):
        if sim.rng.random() < 0.5:
            sim.stats["unreadable_200"] += 1
            return _page(200)
        request[TRUNCATED] = True
    return None


def _page(status: int) -> web.Response:
    """A gateway's own HTML page: the backend never saw the request."""
    page = GATEWAY_PAGE.format(status=status, reason=GATEWAY_REASONS.get(status, "Error"))
    return web.Response(text=page, status=status, content_type="text/html")


def answer(request: web.Request, sim: Simulator, body: bytes) -> web.Response:
    """The 201 as it reaches the client: whole, cut short (``unreadable_2xx_rate``), or
    another batch's (``replayed_answer_rate``: the last 201 given whole, as a cache mixing up
    answers serves one it has passed on)."""
    if request.get(TRUNCATED):
        sim.stats["truncated_201"] += 1
        body = body[: len(body) // 2]
    elif in_fault_scope(request, sim.faults) and sim.last_answer is not None and \
            sim.chance(sim.faults.replayed_answer_rate):
        sim.stats["replayed_answer"] += 1
        body = sim.last_answer
    else:
        sim.last_answer = body
    return web.Response(body=body, status=201, content_type="application/json")


async def after_create(request: web.Request, sim: Simulator, body: Any, now: float
                       ) -> web.Response | None:
    """Once the batch exists: the other campaigns beside it, then the answer lost on its way
    back (None: the 201 goes out, perhaps after being held)."""
    faults = sim.faults
    if not in_fault_scope(request, faults):
        return None
    _other_campaigns(sim, body, now)
    if sim.chance(faults.accept_drop_rate):
        sim.stats["accept_drop"] += 1
        return drop_connection(request)
    if sim.chance(faults.error_after_create_rate):
        sim.stats["error_after_create"] += 1
        return gateway_error(sim, sim.rng.choice(faults.error_after_create_statuses))
    if sim.chance(faults.hold_answer_rate):
        sim.stats["held_answer"] += 1
        await sim.sleep(faults.hold_answer)  # the client may have stopped waiting
    return None


def _create_late(request: web.Request, sim: Simulator, body: Any) -> web.Response:
    """The gateway gives up (504, or the connection drops) while the backend goes on and
    creates the batch seconds later."""
    sim.stats["late_create"] += 1

    def create() -> None:
        with contextlib.suppress(RequestError):
            sim.store.create_batch(body, sim.now(), sim.faults.carrier_cap_after)

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
