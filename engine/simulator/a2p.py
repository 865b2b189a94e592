"""The High Volume SMS (A2P) endpoints: create, read and list batches; list and read messages;
status counts. The listing faults that shape what they show live here too: a listing lag, a
page cap, messages listed only once processing starts (in another order), a lagging message
store. The faults that lose a POST's answer are in lost_answers.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from engine.simulator.lost_answers import after_create, answer, before_create
from engine.simulator.replies import error_response, json_response, not_found
from engine.simulator.state import SIMULATOR, Simulator
from engine.simulator.store import Batch, RequestError, invalid_parameter
from engine.simulator.views import batch_view, message_view, statuses_view

A2P = "/restapi/v1.0/account/{accountId}/a2p-sms"


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
    limit = sim.settings.max_body_bytes
    if sim.faults.body_limit:  # a gateway's lower limit (a fault mode)
        limit = min(limit, sim.faults.body_limit)
    raw = await read_limited(request, limit)
    if raw is None:
        sim.stats["413"] += 1
        return error_response(413, "AGW-413", "Request entity too large")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return error_response(400, "CMN-104", "Cannot parse request")
    del raw
    now = sim.now()
    lost = before_create(request, sim, body)
    if lost is not None:
        return lost
    try:
        batch, rejected = sim.store.create_batch(body, now, sim.faults.carrier_cap_after)
    except RequestError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.parameter)
    lost = await after_create(request, sim, body, now)
    if lost is not None:
        return lost
    view = batch_view(batch, now, sim.settings.price_per_segment, rejected)
    return answer(request, sim, orjson.dumps(view))


async def read_batch(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    batch = sim.store.batch(request.match_info["batchId"])
    if batch is None:
        return not_found("batchId")
    return json_response(batch_view(batch, sim.now(), sim.settings.price_per_segment))


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
    records, total = _message_page(sim, batches, now, start, per_page, detailed)
    return json_response({"records": records, "paging": _page(start, per_page, total)})


def _message_page(sim: Simulator, batches: list[Batch], now: float, start: int, per_page: int,
                  detailed: bool) -> tuple[list[dict[str, Any]], int]:
    """The page of the batches' messages from ``start`` on, and how many they list in all."""
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
    return records, total


async def read_message(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    raw = request.match_info["messageId"]
    found = sim.store.message(int(raw)) if raw.isdigit() else None
    if found is None:
        return not_found("messageId")
    batch, i = found
    view = message_view(batch, i, sim.now(), sim.settings.price_per_segment, True, alone=True)
    return json_response(view)


async def statuses(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    now = sim.now()
    batches = _filtered_batches(request, sim, now)
    return json_response(statuses_view(batches, now, sim.settings.price_per_segment))


def _order(sim: Simulator, batch: Batch, i: int) -> int:
    """With messages_after_start, a batch's messages are listed in another order than the
    request's (reversed in pairs of halves: deterministic, so pages never overlap)."""
    if not sim.faults.messages_after_start:
        return i
    half = (batch.size + 1) // 2
    return half + i if i < batch.size - half else i - (batch.size - half)


def _filtered_batches(request: web.Request, sim: Simulator, now: float) -> list[Batch]:
    batch_id = request.query.get("batchId")
    if batch_id is not None:
        batch = sim.store.batch(batch_id)
        return [batch] if batch is not None else []
    date_from, date_to = _time_range(request, now)
    phone = request.query.get("phoneNumber")
    return [b for b in sim.store.batches
            if date_from <= b.created <= date_to and (phone is None or b.sender == phone)]


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
