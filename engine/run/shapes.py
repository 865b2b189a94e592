"""The report and the events as a type checker sees them: ``TypedDict``s of their JSON.

``engine.send`` returns a ``Report``; ``engine.send_events`` yields ``Event``s (a union a
checker narrows on ``event["event"]``). At run time they are the plain dicts they always were:
these types only name their keys and value types. They mirror engine/schemas/report.json and
events.json key for key (tests/test_typed_api.py holds them equal), so a field added to the
report or an event is added here too. Users import them from ``engine.types``.
"""

from collections.abc import Sequence
from typing import Any, Literal, NotRequired, TypedDict

from engine.core.optouts import Scope as ConsentScope

# waiting, expired: a scheduled send whose chunks all reached their goal with recipients
# left for later rounds, or left when --expire-at passed (engine/run/report.py)
RunStatus = Literal["completed", "interrupted", "partial", "failed", "waiting", "expired"]
ChunkStatus = Literal["accepted", "ambiguous", "completed", "failed", "planned", "split",
                      "submitting", "unknown"]
ChunkReason = Literal["refused", "gave-up", "proved-absent", "not-reconciled",
                      "unreadable-answer", "not-rereadable", "held", "adopted", "recovered",
                      "pending", "unchecked-rejections", "too-large", "opted-out"]
ConsentMethod = Literal["cached", "search", "export", "conditional-export"]


class Rejection(TypedDict):
    """One recipient not sent: found bad while reading ("local") or refused by the server."""

    index: int
    line: int | None
    to: str | None
    errorCode: str
    description: str
    batchId: str | None
    source: str


class Suppressed(TypedDict, total=False):
    """Recipients never sent as opted out, by source (a source that suppressed none is absent)."""

    file: int
    consent: int


class StatusTotals(TypedDict):
    """Every batch's message-status counts added up (engine/run/report.py status_totals)."""

    queued: int
    sent: int
    delivered: int
    deliveryFailed: int
    sendingFailed: int
    errorCodeCounts: dict[str, int]
    cost: float | None
    countsReadAt: str | None


class TotalsFields(TypedDict):
    """The run's totals, in the report's ``totals`` and the ``summary`` event."""

    records: int
    sent: int
    rejectedLocal: int
    rejectedServer: int
    pending: int
    failedChunks: int
    unknownChunks: int
    adoptedChunks: int
    delivered: int | None
    deliveryFailed: int | None
    sendingFailed: int | None
    cost: float | None
    statuses: StatusTotals
    suppressed: Suppressed


class Totals(TotalsFields):
    """The report's totals; a scheduled send's also count the recipients left, by why."""

    deferred: NotRequired[int]
    expired: NotRequired[int]
    dailyCap: NotRequired[int]
    noWindow: NotRequired[int]


class Batch(TypedDict):
    """One chunk of the run and the batch it became (the report's ``batches``)."""

    chunk: int
    batchId: str | None
    firstIndex: int
    lastIndex: int
    messages: int
    bytes: int
    attempts: int
    status: ChunkStatus
    batchSize: int | None
    processedCount: int
    cost: float | None
    queued: int | None
    sent: int | None
    delivered: int | None
    deliveryFailed: int | None
    sendingFailed: int | None
    errorCodeCounts: dict[str, int] | None
    countsReadAt: str | None
    createdAt: str | None
    submittedAt: str | None
    completedAt: str | None
    error: dict[str, Any] | None
    note: str | None
    adopted: bool
    reason: ChunkReason | None
    pending: int | None


class Requests(TypedDict):
    made: int
    throttled: int


class Consent(TypedDict):
    """The last read of RingCentral's opt-outs (the ``consent`` event without its stamp)."""

    scope: ConsentScope
    method: ConsentMethod
    readAt: str
    requests: int
    cached: bool
    optOuts: int
    inScope: int
    etag: str | None
    reads: int


class Schedule(TypedDict):
    """A scheduled send's schedule and where it stands (docs/schedule.md)."""

    quietHours: str
    windowMargin: float
    dailyCap: int | None
    at: str | None
    expireAt: str | None
    tzColumn: str | None
    rulesVersion: str
    remaining: int
    state: Literal["done", "waiting", "expired"]
    nextRound: str | None
    waitingFor: Literal["due", "quiet-hours", "daily-cap", "carrier-cap", "at",
                        "expire-at"] | None
    byZone: dict[str, int]
    byRule: dict[str, int]
    byZoneSource: dict[str, int]


class Report(TypedDict):
    """What ``engine.send`` returns and ``a2p send --report`` writes."""

    runId: str
    profile: str
    input: str
    settings: dict[str, Any]
    startedAt: str
    finishedAt: str
    interrupted: bool
    status: RunStatus
    totals: Totals
    batches: list[Batch]
    # a read-only view of the written report's list (len, iteration, indexing)
    rejected: Sequence[Rejection]
    requests: Requests
    preflight: dict[str, Any] | None
    consent: Consent | None
    warnings: list[str]
    schedule: NotRequired[Schedule]


class Stamp(TypedDict):
    """What every event carries: when it was emitted (UTC ISO 8601) and the run's id."""

    time: str
    runId: str


class StatusCounts(TypedDict):
    queued: int | None
    sent: int | None
    delivered: int | None
    deliveryFailed: int | None
    sendingFailed: int | None
    errorCodeCounts: dict[str, int]
    cost: float | None
    countsReadAt: str | None


class RejectedEvent(Stamp, Rejection):
    event: Literal["rejected"]
    zone: NotRequired[str]  # a scheduled send's: the recipient's zone and where it came from
    zoneSource: NotRequired[Literal["column", "libphonenumber", "area-code", "fallback"]]


class ChunkSubmittedEvent(Stamp):
    event: Literal["chunk_submitted"]
    chunk: int
    batchId: str
    firstIndex: int
    lastIndex: int
    messages: int
    batchSize: int
    bytes: int
    attempts: int
    rejected: int


class ChunkFailedEvent(Stamp):
    event: Literal["chunk_failed"]
    chunk: int
    status: str
    firstIndex: int
    lastIndex: int
    error: dict[str, Any] | None
    note: str | None


class BatchCompletedEvent(Stamp, StatusCounts):
    event: Literal["batch_completed"]
    chunk: int
    batchId: str | None
    processedCount: int


class BatchDeliveredEvent(Stamp, StatusCounts):
    event: Literal["batch_delivered"]
    chunk: int
    batchId: str | None


class WarningEvent(Stamp):
    event: Literal["warning"]
    code: str
    message: str


class ConsentEvent(Stamp, Consent):
    event: Literal["consent"]


class WaitingEvent(Stamp):
    event: Literal["waiting"]
    until: str
    seconds: float
    reason: str
    message: str
    remaining: int
    byZone: dict[str, int]


class ExpiredEvent(Stamp):
    event: Literal["expired"]
    count: int
    expireAt: str
    byZone: dict[str, int]


class ResumedEvent(Stamp):
    event: Literal["resumed"]
    read: int
    sent: int
    rejectedLocal: int
    rejectedServer: int
    acceptedChunks: int
    completedChunks: int
    failedChunks: int
    unknownChunks: int


class SummaryEvent(Stamp, TotalsFields):
    event: Literal["summary"]
    status: str
    requests: int
    throttled: int


# One line of the event stream; ``if event["event"] == "rejected":`` narrows it.
Event = (RejectedEvent | ChunkSubmittedEvent | ChunkFailedEvent | BatchCompletedEvent
         | BatchDeliveredEvent | WarningEvent | ConsentEvent | WaitingEvent | ExpiredEvent
         | ResumedEvent | SummaryEvent)
