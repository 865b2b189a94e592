"""Per-chunk records kept during a run, and the one JSON report built from them at the end."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, get_args

from engine.core import lifecycle
from engine.core.rejections import Aggregator, Rejection, suppressed_by_source
from engine.run.events import ConsentRead, Rejected, Totals, object_schema
from engine.run.reportfile import write_report
from engine.schedule.fates import RULES
from engine.schedule.placement import ZoneSource


def now_iso() -> str:
    """Now by this machine's clock, where the caller has none injected (the edges)."""
    return stamp(datetime.now(UTC).timestamp())


def stamp(seconds: float) -> str:
    """``seconds`` (epoch, from an injected wall clock) in the report's timestamp form."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
    adopted: bool = False  # found on the server after its answer was lost
    reason: lifecycle.Reason | None = None  # why it is in its state, when that needs saying
    pending: int | None = None  # adopted: recipients its message store did not list yet

    def move(self, state: str) -> None:
        """Checked against the lifecycle table. A run changes states only through
        ``Recorder.move``, which journals them; this is its in-memory half."""
        self.state = lifecycle.advance(self.state, state)

    def reopen(self) -> None:
        self.state = lifecycle.reopen(self.state)

    def to_json(self) -> dict[str, Any]:
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
            "error": self.error, "note": self.note, "adopted": self.adopted,
            "reason": self.reason.value if self.reason is not None else None,
            "pending": self.pending,
        }


    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> ChunkRecord:
        """A record as its JSON (a journal's folded entry, a report's batch) describes it."""
        record = cls(entry["chunk"], entry.get("firstIndex", 0), entry.get("lastIndex", 0),
                     entry.get("messages", 0), entry.get("bytes", 0),
                     state=entry.get("status", lifecycle.PLANNED))
        for name, key in JSON_NAMES:
            if entry.get(key) is not None:
                setattr(record, name, entry[key])
        record.error_codes = dict(entry.get("errorCodeCounts") or {})
        try:
            record.reason = lifecycle.Reason(entry.get("reason"))
        except ValueError:
            record.reason = None
        return record


# (attribute, JSON name) of the fields from_json copies as they are
JSON_NAMES = (("attempts", "attempts"), ("batch_id", "batchId"), ("batch_size", "batchSize"),
              ("processed", "processedCount"), ("cost", "cost"), ("delivered", "delivered"),
              ("delivery_failed", "deliveryFailed"), ("submitted_at", "submittedAt"),
              ("queued", "queued"), ("sent", "sent"), ("sending_failed", "sendingFailed"),
              ("counts_read_at", "countsReadAt"), ("completed_at", "completedAt"),
              ("error", "error"), ("note", "note"), ("created", "createdAt"),
              ("adopted", "adopted"), ("pending", "pending"))


def run_status(records: list[ChunkRecord], wait: str, interrupted: bool = False) -> str:
    """interrupted: the run was stopped (batches accepted by then went out all the same), so
    some of the input may not even have been read, let alone cut into chunks: a run stopped
    before its first chunk is interrupted, not completed; completed: every chunk reached its
    goal; failed: none did; partial: some did."""
    if interrupted:
        return "interrupted"
    goal = {lifecycle.ACCEPTED, lifecycle.COMPLETED} if wait == "accepted" else \
        {lifecycle.COMPLETED}
    live = [r for r in records if r.state != lifecycle.SPLIT]
    reached = sum(r.state in goal for r in live)
    if reached == len(live):
        return "completed"
    return "failed" if reached == 0 else "partial"


def scheduled_status(status: str, schedule: Mapping[str, Any]) -> str:
    """A scheduled send's run status: ``completed`` only when nobody is left; every chunk
    at its goal with recipients left for later rounds is ``waiting`` (``expired`` once
    --expire-at passed), so a monitor reading ``status`` tells a finished campaign from one
    that has not begun. Failed, partial and interrupted runs keep their status: they say
    more. A run left only with recipients whose window never opens (fate ``no-window``,
    ``schedule.state`` done) has ended: ``completed``, its ``totals.noWindow`` counting
    them."""
    state = schedule.get("state")
    if status != "completed" or not schedule.get("remaining") or state == "done":
        return status
    return "expired" if state == "expired" else "waiting"


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


def totals_of(records: list[ChunkRecord], aggregator: Aggregator, wait: str) -> Totals:
    live = [r for r in records if r.state != lifecycle.SPLIT]
    costs = [r.cost for r in live if r.cost is not None]
    tracked = wait != "accepted"  # --wait accepted never reads statuses: delivery is unknown
    return Totals(
        records=aggregator.records,
        sent=aggregator.sent,
        rejected_local=aggregator.rejected_local,
        rejected_server=aggregator.rejected_server,
        pending=aggregator.pending,
        failed_chunks=sum(r.state == lifecycle.FAILED for r in live),
        unknown_chunks=sum(r.state == lifecycle.UNKNOWN for r in live),
        adopted_chunks=sum(r.adopted for r in live),
        delivered=sum(r.delivered or 0 for r in live) if tracked else None,
        delivery_failed=sum(r.delivery_failed or 0 for r in live) if tracked else None,
        sending_failed=sum(r.sending_failed or 0 for r in live) if tracked else None,
        cost=round(sum(costs), 6) if costs else None,
        # "sent" above counts messages the server accepted; these are message statuses.
        statuses=status_totals(live),
        suppressed=suppressed_by_source(aggregator),
    )


def report_head(*, run_id: str, profile: str, source: str, settings: dict[str, Any],
                started: str, records: list[ChunkRecord], totals: Totals, wait: str,
                interrupted: bool, finished: str | None = None) -> dict[str, Any]:
    """The report's fields before ``rejected``."""
    return {
        "runId": run_id, "profile": profile, "input": source, "settings": settings,
        "startedAt": started, "finishedAt": finished or now_iso(), "interrupted": interrupted,
        "status": run_status(records, wait, interrupted), "totals": totals.to_json(),
        "batches": [r.to_json() for r in sorted(records, key=lambda r: r.number)],
    }


def build_report(*, run_id: str, profile: str, source: str, settings: dict[str, Any],
                 started: str, records: list[ChunkRecord], totals: Totals,
                 wait: str, interrupted: bool, rejected: list[Rejection],
                 finished: str | None = None) -> dict[str, Any]:
    """The report's fields up to ``rejected``, all in memory: for small lists and tests (a
    run streams its report: ``finish``)."""
    return {**report_head(run_id=run_id, profile=profile, source=source, settings=settings,
                          started=started, records=records, totals=totals, wait=wait,
                          interrupted=interrupted, finished=finished),
            "rejected": [r.as_json() for r in rejected]}


@dataclass(frozen=True, slots=True)
class Finished:
    document: dict[str, Any]  # its "rejected" is a RejectedView of the written file
    totals: Totals
    warning: str | None  # the mostly-rejected warning, when it applies


def finish(*, run_id: str, profile: str, source: str, settings: dict[str, Any], started: str,
           records: list[ChunkRecord], aggregator: Aggregator, wait: str, interrupted: bool,
           requests: int, throttled: int, preflight: dict[str, Any] | None,
           warnings: list[str], path: str | os.PathLike[str] | None = None,
           failed: bool = False, finished: str | None = None,
           consent: dict[str, Any] | None = None,
           schedule: dict[str, Any] | None = None) -> Finished:
    """The report of a run that has ended, written to ``path`` (or, when None, a temporary
    file the returned document's ``rejected`` view keeps while it lives) as a stream: the
    rejections merged from the aggregator's spill, never all in memory. ``failed``: the run
    ended on an error before it could finish (its message is among ``warnings``), so it is
    ``failed`` whatever the chunks it got to say. ``finished``: when (the run's wall clock,
    ``stamp``); now when not given. ``consent``: the opt-outs read before the first POST
    (``ConsentRead`` without its ``event``; None: not read, --no-consent)."""
    aggregator.records = sum(r.count for r in records if r.state != lifecycle.SPLIT) + \
        aggregator.rejected_local
    totals = totals_of(records, aggregator, wait)
    head = report_head(run_id=run_id, profile=profile, source=source, settings=settings,
                       started=started, records=records, totals=totals, wait=wait,
                       interrupted=interrupted, finished=finished)
    if failed:
        head["status"] = "failed"
    elif schedule is not None:
        head["status"] = scheduled_status(head["status"], schedule)
    # a stopped run counts only what it cut into chunks: records read but never chunked are
    # in no total, so the share rejected would be a guess (a 33 % bad list shown as 100 %).
    # A scheduled send's recipients left for later rounds were read and judged valid: they
    # count among the records, never as rejected (a tick before the first window opens)
    judged = aggregator.records + int((schedule or {}).get("remaining") or 0)
    warning = None if interrupted else aggregator.mostly_rejected(judged)
    tail = {"requests": {"made": requests, "throttled": throttled}, "preflight": preflight,
            "consent": consent,
            "warnings": [*warnings, *([warning] if warning is not None else [])]}
    if schedule is not None:  # a scheduled send's (engine/run/rounds.py): none otherwise
        head["totals"].update(schedule.pop("totals", {}))
        tail["schedule"] = schedule
    view = write_report(path, head, "rejected",
                        (payload for _, payload in aggregator.merged()), tail)
    return Finished({**head, "rejected": view, **tail}, totals, warning)


def _maybe(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


BATCH_FIELDS: dict[str, dict[str, Any]] = {
    "chunk": {"type": "integer"}, "batchId": _maybe("string"),
    "firstIndex": {"type": "integer"}, "lastIndex": {"type": "integer"},
    "messages": {"type": "integer"}, "bytes": {"type": "integer"},
    "attempts": {"type": "integer"},
    # superseded is the journal's word for a chunk a resume replaced: no report holds one
    "status": {"enum": sorted(set(lifecycle.TRANSITIONS) - {lifecycle.SUPERSEDED})},
    "batchSize": _maybe("integer"), "processedCount": {"type": "integer"},
    "cost": _maybe("number"), "queued": _maybe("integer"), "sent": _maybe("integer"),
    "delivered": _maybe("integer"), "deliveryFailed": _maybe("integer"),
    "sendingFailed": _maybe("integer"), "errorCodeCounts": _maybe("object"),
    "countsReadAt": _maybe("string"), "createdAt": _maybe("string"),
    "submittedAt": _maybe("string"), "completedAt": _maybe("string"),
    "error": _maybe("object"), "note": _maybe("string"), "adopted": {"type": "boolean"},
    "reason": {"enum": [None, *(r.value for r in lifecycle.Reason)]},
    "pending": _maybe("integer"),
}


SCHEDULE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "quietHours": {"type": "string"}, "windowMargin": {"type": "number"},
        "dailyCap": _maybe("integer"), "at": _maybe("string"), "expireAt": _maybe("string"),
        "tzColumn": _maybe("string"), "rulesVersion": {"type": "string"},
        "remaining": {"type": "integer"},
        "state": {"enum": ["done", "waiting", "expired"]},
        "nextRound": _maybe("string"),
        "waitingFor": {"enum": [None, "due", "quiet-hours", "daily-cap", "carrier-cap", "at",
                                "expire-at"]},
        "byZone": {"type": "object", "additionalProperties": {"type": "integer"}},
        # the recipients left by the rule holding each (engine/schedule/fates.py RULES)
        "byRule": {"type": "object", "properties": {rule: {"type": "integer"}
                                                     for rule in RULES},
                   "required": list(RULES), "additionalProperties": False},
        # the recipients left by how their zones were found (column, libphonenumber, ...)
        "byZoneSource": {"type": "object", "properties": {
            source: {"type": "integer"} for source in get_args(ZoneSource)},
            "required": list(get_args(ZoneSource)), "additionalProperties": False}},
    "required": ["quietHours", "windowMargin", "dailyCap", "at", "expireAt", "tzColumn",
                 "rulesVersion", "remaining", "state", "nextRound", "waitingFor", "byZone",
                 "byRule", "byZoneSource"],
}


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the report ``a2p send`` writes and ``send`` returns."""
    rejection = object_schema(Rejected)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "a2p send report",
        "type": "object",
        "properties": {
            "runId": {"type": "string"}, "profile": {"type": "string"},
            "input": {"type": "string"}, "settings": {"type": "object"},
            "startedAt": {"type": "string"}, "finishedAt": {"type": "string"},
            "interrupted": {"type": "boolean"},
            "status": {"enum": ["completed", "interrupted", "partial", "failed", "waiting",
                                "expired"]},
            "totals": object_schema(Totals),
            "batches": {"type": "array", "items": {
                "type": "object", "properties": BATCH_FIELDS, "required": list(BATCH_FIELDS)}},
            "rejected": {"type": "array", "items": rejection},
            "requests": {"type": "object", "properties": {
                "made": {"type": "integer"}, "throttled": {"type": "integer"}},
                "required": ["made", "throttled"]},
            "preflight": _maybe("object"),
            "consent": {"anyOf": [{"type": "null"}, object_schema(ConsentRead)]},
            "warnings": {"type": "array", "items": {"type": "string"}},
            # a scheduled send's only (engine/run/roundreport.py report_of); its totals then also
            # carry deferred, expired and dailyCap: the recipients left, by why
            "schedule": SCHEDULE,
        },
        "required": ["runId", "profile", "input", "settings", "startedAt", "finishedAt",
                     "interrupted", "status", "totals", "batches", "rejected", "requests",
                     "preflight", "consent", "warnings"],
    }
