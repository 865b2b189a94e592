"""The run's events: one frozen dataclass each, one place that names their JSON fields.

A run emits these to ``on_event`` as JSON objects (``to_json()``), one per line on the CLI's
stdout. ``parse`` reads one back (progress.py does); the JSON Schema of the stream is built
from these classes by engine/run/eventschema.py, so it cannot drift from them
(engine/schemas/events.json ships it and a test checks the two agree). A new event is a new
class here and the line that emits it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, get_type_hints

from engine.core.rejections import Rejection


@functools.cache  # a few dozen field names, asked for every field of every event
def camel(name: str) -> str:
    """A field's JSON name: ``batch_id`` is ``batchId``."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True, slots=True)
class Fields:
    """A value whose JSON names each field in camelCase."""

    def to_json(self) -> dict[str, Any]:
        return _json_of(self)


@dataclass(frozen=True, slots=True)
class Event(Fields):
    """Base of every event: its fields under ``event``, the kind's name."""

    KIND: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        return {"event": self.KIND, **_json_of(self)}


def _json_of(value: Any) -> dict[str, Any]:
    """A dataclass's fields in camelCase; a field that is itself a dataclass (the counts,
    the totals) is spread into the same object."""
    out: dict[str, Any] = {}
    for spec in dataclasses.fields(value):
        item = getattr(value, spec.name)
        if dataclasses.is_dataclass(item):
            out.update(_json_of(item))
        else:
            out[camel(spec.name)] = item
    return out


@dataclass(frozen=True, slots=True)
class Rejected(Event):
    """A recipient that will not be sent: found bad while reading (source "local") or
    refused by the server in a batch answer (source "server"). A scheduled send's also
    carry the recipient's ``zone`` and ``zoneSource`` (engine/run/roundreport.py)."""

    KIND: ClassVar[str] = "rejected"
    # fields some events of the kind carry, beside the dataclass's (not required)
    OPTIONAL: ClassVar[dict[str, Any]] = {
        "zone": {"type": "string"},
        "zoneSource": {"enum": ["column", "libphonenumber", "area-code", "fallback"]}}
    index: int
    line: int | None
    to: str | None
    error_code: str
    description: str
    batch_id: str | None
    source: str

    @classmethod
    def of(cls, rejection: Rejection) -> Rejected:
        fields = (rejection.index, rejection.line, rejection.to, rejection.error_code,
                  rejection.description, rejection.batch_id, rejection.source)
        zone = rejection.zone
        return cls(*fields) if zone is None else ZonedRejected(*fields, zone)

    def to_json(self) -> dict[str, Any]:
        # the one event a bad list brings by the million: built directly, not by reflection
        # (0.5 us against 7); test_events holds it equal to the reflected form
        return {"event": self.KIND, "index": self.index, "line": self.line, "to": self.to,
                "errorCode": self.error_code, "description": self.description,
                "batchId": self.batch_id, "source": self.source}


@dataclass(frozen=True, slots=True)
class ZonedRejected(Rejected):
    """A ``rejected`` event of a record whose --tz-column zone the reader had: ``zone`` is
    that cell's zone (a scheduled send then places it by it, with its ``zoneSource``:
    engine/run/roundreport.py ``placed``)."""

    zone: str = ""

    def to_json(self) -> dict[str, Any]:
        return {**Rejected.to_json(self), "zone": self.zone}


@dataclass(frozen=True, slots=True)
class ChunkSubmitted(Event):
    """The server created a batch for a chunk (or one was adopted after a lost answer)."""

    KIND: ClassVar[str] = "chunk_submitted"
    chunk: int
    batch_id: str
    first_index: int
    last_index: int
    messages: int
    batch_size: int
    bytes: int
    attempts: int
    rejected: int


@dataclass(frozen=True, slots=True)
class ChunkFailed(Event):
    """A chunk ended unsent ("failed": certainly not sent) or unknown ("unknown": it may
    hold SMS; check it on RingCentral before sending its range again)."""

    KIND: ClassVar[str] = "chunk_failed"
    chunk: int
    status: str
    first_index: int
    last_index: int
    error: dict[str, Any] | None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class StatusCounts(Fields):
    """A batch's message-status counts (None until they were read)."""

    queued: int | None = None
    sent: int | None = None
    delivered: int | None = None
    delivery_failed: int | None = None
    sending_failed: int | None = None
    error_code_counts: dict[str, int] = field(default_factory=dict)
    cost: float | None = None
    counts_read_at: str | None = None


@dataclass(frozen=True, slots=True)
class BatchEvent(Event):
    """An event about one batch of the run."""

    chunk: int
    batch_id: str | None


@dataclass(frozen=True, slots=True)
class BatchCompleted(BatchEvent):
    """A batch reached Completed: every message was handed on towards the carriers."""

    KIND: ClassVar[str] = "batch_completed"
    processed_count: int
    counts: StatusCounts


@dataclass(frozen=True, slots=True)
class BatchDelivered(BatchEvent):
    """Every message of a batch has its receipt (``--wait delivered``)."""

    KIND: ClassVar[str] = "batch_delivered"
    counts: StatusCounts


@dataclass(frozen=True, slots=True)
class RunWarning(Event):
    """Something the user should see even with -q ("preflight", "mostly-rejected", "pending",
    "suppress", "consent", "carrier-cap", "daily-cap", "at-past", "clock-skew",
    "no-window", "queue-unknown")."""

    KIND: ClassVar[str] = "warning"
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class ConsentRead(Event):
    """RingCentral's opt-outs read before the first POST, and again before a batch's first
    POST once older than --max-consent-age (not sent under --no-consent): the scope, how they
    were read (cached: no request), when, the Light requests it took, the opt-outs of the
    account and those in scope, and the run's reads so far; the report's ``consent`` holds
    the last read's."""

    KIND: ClassVar[str] = "consent"
    scope: str = field(metadata={"schema": {"enum": ["account", "pair"]}})
    # cached (no request), search, export, conditional-export (If-None-Match)
    method: str = field(metadata={"schema": {
        "enum": ["cached", "search", "export", "conditional-export"]}})
    read_at: str  # when the records were read (a cached read: when it was made)
    requests: int
    cached: bool
    opt_outs: int
    in_scope: int
    etag: str | None
    reads: int = field(default=1, metadata={"schema": {"type": "integer", "minimum": 1}})


@dataclass(frozen=True, slots=True)
class Resumed(Event):
    """A resumed run's first event: what the runs before it did, as the journal holds it,
    so counters kept from the events (a progress line, a dashboard) go on from there rather
    than from 0: records read (sent or rejected locally), recipients sent, rejected locally
    and by the server, and the chunks accepted (completed ones too), completed, failed and
    unknown."""

    KIND: ClassVar[str] = "resumed"
    read: int
    sent: int
    rejected_local: int
    rejected_server: int
    accepted_chunks: int
    completed_chunks: int
    failed_chunks: int
    unknown_chunks: int


@dataclass(frozen=True, slots=True)
class Totals(Fields):
    """The report's totals, as the summary event repeats them."""

    records: int
    sent: int
    rejected_local: int
    rejected_server: int
    pending: int  # adopted batches' recipients not yet listed by the store: not yet known
    failed_chunks: int
    unknown_chunks: int
    adopted_chunks: int
    delivered: int | None
    delivery_failed: int | None
    sending_failed: int | None
    cost: float | None
    statuses: dict[str, Any]
    # recipients never sent as opted out (LCL-OPTED-OUT, counted in rejected_local too), by
    # source: "file" (--suppress lists), "consent" (RingCentral's consent records); a source
    # that suppressed nobody is left out ({} when none did)
    suppressed: dict[str, int] = field(default_factory=dict, metadata={"schema": {
        "type": "object", "additionalProperties": False,
        "properties": {"file": {"type": "integer", "minimum": 1},
                       "consent": {"type": "integer", "minimum": 1}}}})


@dataclass(frozen=True, slots=True)
class Summary(Event):
    """The last event: the run's status and totals, and the requests it made."""

    KIND: ClassVar[str] = "summary"
    status: str
    totals: Totals
    requests: int = 0
    throttled: int = 0


# recipients left, by zone (a window key of several zones: their names joined by +, as
# a2p plan labels them; the every-zone fallback: unknown (every US zone))
BY_ZONE = {"type": "object", "additionalProperties": {"type": "integer"}}


@dataclass(frozen=True, slots=True)
class Waiting(Event):
    """A scheduled send waits for its next round (engine/run/rounds.py): until when (UTC),
    how many seconds, why ("quiet-hours", "daily-cap", "carrier-cap", "processing": the
    server's queue leaves no room before the round's deadline, "at", "expire-at"), the line
    the progress shows, and how many recipients are left, in all and by zone."""

    KIND: ClassVar[str] = "waiting"
    until: str
    seconds: float
    reason: str
    message: str
    remaining: int
    by_zone: dict[str, int] = field(metadata={"schema": BY_ZONE})


@dataclass(frozen=True, slots=True)
class Expired(Event):
    """--expire-at passed: ``count`` recipients were never sent and are ``expired`` (not
    retryable without a new run); ``byZone`` counts them by zone."""

    KIND: ClassVar[str] = "expired"
    count: int
    expire_at: str
    by_zone: dict[str, int] = field(metadata={"schema": BY_ZONE})


class Stamper:
    """What every event of a run carries besides its own fields: ``time``, when it was
    emitted (UTC ISO 8601 to the millisecond, from the run's ``wall`` clock, so tests drive
    it), and ``runId``, the run's (the journal's and the report's; a resume keeps it). The
    formatted time is cached per millisecond: a bad list brings millions of events."""

    def __init__(self, run_id: str, wall: Callable[[], float]) -> None:
        self.run_id = run_id
        self._wall = wall
        self._ms = -1
        self._text = ""

    def time(self) -> str:
        ms = int(self._wall() * 1000)
        if ms != self._ms:
            self._ms = ms
            second = datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._text = f"{second}.{ms % 1000:03d}Z"
        return self._text

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` (an event's ``to_json()``) with ``time`` and ``runId`` added."""
        data["time"] = self.time()
        data["runId"] = self.run_id
        return data


EVENTS: tuple[type[Event], ...] = (Rejected, ChunkSubmitted, ChunkFailed, BatchCompleted,
                                   BatchDelivered, RunWarning, ConsentRead, Waiting, Expired,
                                   Resumed, Summary)
_BY_KIND = {kind.KIND: kind for kind in EVENTS}


def parse(data: dict[str, Any]) -> Event:
    """An event back from its JSON; raises KeyError/TypeError on a malformed one."""
    event = _from_json(_BY_KIND[data["event"]], data)
    assert isinstance(event, Event)
    return event


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(kind: type[Any]) -> dict[str, Any]:
    """A kind's field types, resolved once: get_type_hints evaluates every annotation anew
    (0.5 ms an event; the progress line parses every `rejected` event, 19M at the bad end)."""
    found = _HINTS.get(kind)
    if found is None:
        found = _HINTS[kind] = get_type_hints(kind)
    return found


def _from_json(kind: type[Any], data: dict[str, Any]) -> Any:
    hints = _hints(kind)
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(kind):
        hint = hints[spec.name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            values[spec.name] = _from_json(hint, data)
        elif camel(spec.name) in data:
            values[spec.name] = data[camel(spec.name)]
    return kind(**values)
