"""Per-chunk records kept during a run, and the one JSON report built from them at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine import lifecycle
from engine.rejections import Aggregator


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class ChunkRecord:
    """Everything the report says about one chunk; mutated only by the run that owns it."""

    number: int
    first: int
    last: int
    count: int
    bytes: int
    state: str = lifecycle.PLANNED
    attempts: int = 0
    batch_id: str | None = None
    created: str | None = None
    submitted_at: str | None = None
    completed_at: str | None = None
    processed: int = 0
    batch_size: int | None = None
    cost: float | None = None
    delivered: int | None = None
    delivery_failed: int | None = None
    queued: int | None = None
    sent: int | None = None
    sending_failed: int | None = None
    counts_read_at: str | None = None  # when the status counts above were read
    error_codes: dict[str, int] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    note: str | None = None

    def move(self, state: str) -> None:
        self.state = lifecycle.advance(self.state, state)

    def as_json(self) -> dict[str, Any]:
        return {
            "chunk": self.number, "batchId": self.batch_id, "firstIndex": self.first,
            "lastIndex": self.last, "messages": self.count, "bytes": self.bytes,
            "attempts": self.attempts, "status": self.state, "batchSize": self.batch_size,
            "processedCount": self.processed, "cost": self.cost, "queued": self.queued,
            "sent": self.sent, "delivered": self.delivered,
            "deliveryFailed": self.delivery_failed, "sendingFailed": self.sending_failed,
            "errorCodeCounts": self.error_codes or None, "countsReadAt": self.counts_read_at,
            "createdAt": self.created, "submittedAt": self.submitted_at,
            "completedAt": self.completed_at,
            "error": self.error, "note": self.note,
        }


def run_status(records: list[ChunkRecord], wait: str) -> str:
    """completed: every chunk reached its goal; failed: none did; partial: some did."""
    goal = {lifecycle.ACCEPTED, lifecycle.COMPLETED} if wait == "accepted" else \
        {lifecycle.COMPLETED}
    live = [r for r in records if r.state != lifecycle.SPLIT]
    reached = sum(r.state in goal for r in live)
    if reached == len(live):
        return "completed"
    return "failed" if reached == 0 else "partial"


def status_totals(records: list[ChunkRecord]) -> dict[str, Any]:
    """The message-status counts of every batch added up, and when the latest was read."""
    codes: dict[str, int] = {}
    for record in records:
        for code, n in record.error_codes.items():
            codes[code] = codes.get(code, 0) + n
    read = [r.counts_read_at for r in records if r.counts_read_at]
    costs = [r.cost for r in records if r.cost is not None]
    return {
        "queued": sum(r.queued or 0 for r in records),
        "sent": sum(r.sent or 0 for r in records),
        "delivered": sum(r.delivered or 0 for r in records),
        "deliveryFailed": sum(r.delivery_failed or 0 for r in records),
        "sendingFailed": sum(r.sending_failed or 0 for r in records),
        "errorCodeCounts": dict(sorted(codes.items())),
        "cost": round(sum(costs), 6) if costs else None,
        "countsReadAt": max(read) if read else None,
    }


def build_report(*, run_id: str, profile: str, source: str, settings: dict[str, Any],
                 started: str, records: list[ChunkRecord], aggregator: Aggregator,
                 wait: str, interrupted: bool) -> dict[str, Any]:
    live = [r for r in records if r.state != lifecycle.SPLIT]
    costs = [r.cost for r in live if r.cost is not None]
    totals = {
        "records": aggregator.records,
        "sent": aggregator.sent,
        "rejectedLocal": aggregator.rejected_local,
        "rejectedServer": aggregator.rejected_server,
        "failedChunks": sum(r.state == lifecycle.FAILED for r in live),
        "unknownChunks": sum(r.state == lifecycle.UNKNOWN for r in live),
        "delivered": sum(r.delivered or 0 for r in live),
        "deliveryFailed": sum(r.delivery_failed or 0 for r in live),
        "sendingFailed": sum(r.sending_failed or 0 for r in live),
        "cost": round(sum(costs), 6) if costs else None,
        # "sent" above counts messages the server accepted; these are message statuses.
        "statuses": status_totals(live),
    }
    return {
        "runId": run_id, "profile": profile, "input": source, "settings": settings,
        "startedAt": started, "finishedAt": now_iso(), "interrupted": interrupted,
        "status": run_status(records, wait), "totals": totals,
        "batches": [r.as_json() for r in sorted(records, key=lambda r: r.number)],
        "rejected": [r.as_json() for r in aggregator.rejections()],
    }
