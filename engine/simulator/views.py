"""JSON views of the store, shaped by the spec's response schemas (MessageBatchResponse,
MessageListMessageResponse, MessageStatusesResponse and the error models)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from engine.simulator.store import Batch


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def error_body(code: str, message: str, parameter: str | None = None) -> dict[str, Any]:
    """One body that satisfies ASGErrorResponse, ApiErrorResponseModel and the parameterised
    model alike: RingCentral's gateway and services answer in all three shapes."""
    entry: dict[str, Any] = {"errorCode": code, "message": message}
    if parameter is not None:
        entry["parameterName"] = parameter
    return {"errorCode": code, "message": message, "errors": [entry]}


def oauth_error(error: str, code: str, message: str) -> dict[str, Any]:
    return {"error": error, "error_description": message,
            "errors": [{"errorCode": code, "message": message}]}


def price(segments: int, per_segment: float) -> float:
    return round(segments * per_segment, 6)


def batch_view(batch: Batch, now: float, per_segment: float,
               rejected: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    processed = batch.processed(now)
    done = processed == batch.size
    view: dict[str, Any] = {
        "id": batch.id,
        "from": batch.sender,
        "batchSize": batch.size,
        "processedCount": processed,
        "status": "Completed" if done else "Processing",
        "creationTime": iso(batch.created),
        "lastModifiedTime": iso(batch.begins + processed / batch.rate),
        # The guide: reading a batch "will always return an empty rejected array".
        "rejected": rejected or [],
    }
    if done:
        view["cost"] = price(batch.charged_segments(now, batch.size), per_segment)
    return view


def message_view(batch: Batch, i: int, now: float, per_segment: float,
                 detailed: bool, alone: bool = False) -> dict[str, Any]:
    processed = batch.processed(now)
    status, error = batch.fate(i, now, processed)
    segments = batch.segments_of(i)
    message_id = (batch.serial << 32) + i
    view: dict[str, Any] = {
        # The spec types this id as int64 in listings and as a string when read alone.
        "id": str(message_id) if alone else message_id,
        "batchId": batch.id,
        "from": batch.sender,
        "to": [batch.to(i)],
        "creationTime": iso(batch.created),
        "lastModifiedTime": iso(batch.begins + min(i + 1, processed) / batch.rate),
        "messageStatus": status,
        "segmentCount": segments,
        "direction": "Outbound",
    }
    if status != "Queued":
        view["cost"] = price(segments if batch.charged(i, now) else 0, per_segment)
    if error is not None:
        view["errorCode"] = error
    if detailed:
        view["text"] = batch.text_of(i)
    return view


STATUS_KEYS = {"Queued": "queued", "Sent": "sent", "Delivered": "delivered",
               "DeliveryFailed": "deliveryFailed", "SendingFailed": "sendingFailed"}


def add_statuses(totals: dict[str, dict[str, Any]], batch: Batch, now: float) -> None:
    """Add one batch's messages to status counts as of ``now``, with segments in place of cost.

    Without receipt delays only the failing, silent and opted-out messages need a look; with
    them every processed one does (the simulator's /statuses is O(batch) then)."""
    processed = batch.processed(now)
    queued = totals["queued"]
    queued["count"] += batch.size - processed
    queued["segments"] += batch.segments_upto(batch.size) - batch.segments_upto(processed)
    if batch.delays is not None:
        looked: Sequence[int] = range(processed)
    else:
        blocked = batch.blocked_indexes(now, processed)
        looked = sorted({i for i in (*batch.failed, *batch.silent, *blocked) if i < processed})
    segments = 0
    for i in looked:
        status, code = batch.fate(i, now, processed)
        entry = totals[STATUS_KEYS[status]]
        entry["count"] += 1
        entry["segments"] += batch.segments_of(i) if batch.charged(i, now) else 0
        segments += batch.segments_of(i)
        if code is not None:
            entry["errorCodeCounts"][code] = entry["errorCodeCounts"].get(code, 0) + 1
    # Messages not looked at were delivered at once (no delays, not failing, not silent).
    totals["delivered"]["count"] += processed - len(looked)
    totals["delivered"]["segments"] += batch.segments_upto(processed) - segments


def statuses_view(batches: list[Batch], now: float, per_segment: float) -> dict[str, Any]:
    keys = ("queued", "delivered", "deliveryFailed", "sent", "sendingFailed")
    totals: dict[str, dict[str, Any]] = {k: {"count": 0, "segments": 0} for k in keys}
    for key in ("deliveryFailed", "sendingFailed"):
        totals[key]["errorCodeCounts"] = {}
    for batch in batches:
        add_statuses(totals, batch, now)
    for entry in totals.values():
        entry["cost"] = price(entry.pop("segments"), per_segment)
    return totals
