"""Every input record's fate as one row: the pure half of ``a2p outcomes``.

No I/O here. The journal's chunks and the re-read input come from engine/results/walk.py
(``Span``, ``Record``, ``in_order``); here a ``Matcher`` pairs one batch's message-store
records with that chunk's input records by number; ``classify`` turns a message's status and
error code into an outcome; ``row_of`` makes a record's row; ``Totals`` adds the rows up.

Matching: within one chunk every message has the same batch id, so (batch id, number) comes
down to the number. The store's records for a number are queued in the order the store lists
them, and a number that appears twice in one chunk takes them in that order: the first
occurrence in the input gets the first record listed. Only records read ahead of the input are
held, so with a store that lists a batch in request order (the simulator does) the matcher holds
about one page; the worst case, a store listing in reverse, holds one chunk.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from engine.core import lifecycle
from engine.core.policy import LOST_CODE
from engine.core.rejections import OPTED_OUT as LCL_OPTED_OUT
from engine.core.rejections import Rejection
from engine.core.storecheck import LOST_DESCRIPTION, PENDING_DESCRIPTION
from engine.rc.errorcodes import OPT_OUT_CODES, describe
from engine.results.names import (
    DELIVERED,
    DELIVERY_FAILED,
    FILTERS,
    FROM_STORE,
    GROUPS,
    NOT_SENT,
    OPTED_OUT,
    OUTCOMES,
    PENDING,
    QUEUED,
    REJECTED_LOCAL,
    REJECTED_SERVER,
    SENDING_FAILED,
    SENT_NO_RECEIPT,
    SUPPRESSED,
    UNKNOWN,
)
from engine.results.walk import Record, Span

BY_STATUS = {"Delivered": DELIVERED, "DeliveryFailed": DELIVERY_FAILED,
             "SendingFailed": SENDING_FAILED, "Sent": SENT_NO_RECEIPT, "Queued": QUEUED}
STATUS_COUNT_KEYS = {DELIVERED: "delivered", DELIVERY_FAILED: "deliveryFailed",
                     SENDING_FAILED: "sendingFailed", SENT_NO_RECEIPT: "sent", QUEUED: "queued"}
COLUMNS = ("index", "line", "to", "outcome", "errorCode", "description", "retryable",
           "batchId", "messageId", "segments", "cost")


class Row(NamedTuple):
    """One input record's fate. ``position`` (the ``index`` column) is its 0-based position in
    the input, ``line`` its first line in the file; ``text`` is its own text when it had one
    (templates, a text column)."""

    position: int
    line: int | None
    to: str | None
    outcome: str
    errorCode: str | None
    description: str
    retryable: bool
    batchId: str | None
    messageId: str | None
    segments: int | None
    cost: float | None
    text: str | None = None
    # a scheduled send's (engine/results/unsent.py): where the recipient is, and for one not
    # sent yet its fate (deferred, daily-cap, expired) and next opening (UTC ISO 8601)
    zone: str | None = None
    zoneSource: str | None = None
    fate: str | None = None
    nextOpening: str | None = None


# the columns a scheduled send's rows add (after ``text`` when there is one)
SCHEDULE_COLUMNS = ("zone", "zoneSource", "fate", "nextOpening")


class Unsent(NamedTuple):
    """A scheduled send's recipient not sent yet: its row's description, the fate's kind
    (deferred, daily-cap, expired) and its next opening (UTC ISO 8601; None: none in the
    horizon, or expired). Not retryable: continuing the run (a2p send --resume) sends it."""

    description: str
    fate: str
    next_opening: str | None


def classify(message: Mapping[str, Any]) -> tuple[str, str | None, str, bool]:
    """(outcome, errorCode, description, retryable) of one message-store record."""
    status = message.get("messageStatus")
    outcome = BY_STATUS.get(status if isinstance(status, str) else "", UNKNOWN)
    code = message.get("errorCode")
    code = code if isinstance(code, str) and code else None
    if code is not None:
        description, retryable = describe(code)
        if code in OPT_OUT_CODES and outcome in (DELIVERY_FAILED, SENDING_FAILED):
            # accepted in the 201, failed when processed: the pair is opted out, and sending
            # again fails again (and may break the law): never retryable
            return OPTED_OUT, code, description, False
        return outcome, code, description, retryable and outcome in (DELIVERY_FAILED,
                                                                     SENDING_FAILED)
    if outcome == SENT_NO_RECEIPT:
        return outcome, None, "Sent; no receipt from the carrier yet: may have been delivered", \
            False
    if outcome == QUEUED:
        return outcome, None, "Queued at RingCentral, not sent yet", False
    if outcome == UNKNOWN:
        return outcome, None, f"unrecognised messageStatus {status!r}", False
    return outcome, None, "", False


class Stored(NamedTuple):
    """What a row needs from one message-store record."""

    outcome: str
    code: str | None
    description: str
    retryable: bool
    message_id: str | None
    segments: int | None
    cost: float | None


def stored(message: Mapping[str, Any]) -> Stored:
    outcome, code, description, retryable = classify(message)
    message_id, segments, cost = (message.get("id"), message.get("segmentCount"),
                                  message.get("cost"))
    return Stored(outcome, code, description, retryable,
                  str(message_id) if message_id is not None else None,
                  segments if type(segments) is int else None,
                  float(cost) if isinstance(cost, int | float) else None)


def number_of(message: Mapping[str, Any]) -> str | None:
    to = message.get("to")
    if isinstance(to, list) and len(to) == 1 and isinstance(to[0], str):
        return to[0]
    return to if isinstance(to, str) else None


@dataclass
class Matcher:
    """Pairs one batch's message-store records with its chunk's input records, by number,
    in the order the store lists them (see the module docstring). A number held once maps to
    its record, a repeated one to a list of them: no container per number in the usual case."""

    batch_id: str
    pending: dict[str, Stored | list[Stored]] = field(default_factory=dict)
    held: int = 0
    foreign: int = 0  # records of another batch, which a batchId query should never return

    def add(self, messages: Iterable[Mapping[str, Any]]) -> None:
        for message in messages:
            number = number_of(message)
            if message.get("batchId") != self.batch_id or number is None:
                self.foreign += 1
                continue
            found = stored(message)
            earlier = self.pending.get(number)
            if earlier is None:
                self.pending[number] = found
            elif isinstance(earlier, list):
                earlier.append(found)
            else:
                self.pending[number] = [earlier, found]
            self.held += 1

    def take(self, number: str) -> Stored | None:
        held = self.pending.get(number)
        if held is None:
            return None
        self.held -= 1
        if not isinstance(held, list):
            del self.pending[number]
            return held
        found = held.pop(0)  # short lists: a number repeated within one chunk
        if not held:
            del self.pending[number]
        return found


def row_of(record: Record, span: Span | None, local: Mapping[int, Rejection],
           found: Stored | None = None, complete: bool = False,
           server: Rejection | None = None, unsent: Unsent | None = None) -> Row:
    """The row of one input record, given the chunk it belongs to (None: in no chunk) and,
    for a record of an accepted chunk, the server's rejection of it (``server``, from the
    journal) or what the message store holds for it; ``complete``: that store listed the
    whole batch when it was read; ``unsent``: a scheduled send's fate for its record if not
    sent (engine/results/unsent.py), told for a record in no chunk, or in a chunk a later
    round cuts again (planned: held by a closing window or a stop; failed, certainly not
    sent), as the run's report counts it."""
    position, line, to, text = record.position, record.line, record.to, record.text
    rejection = local.get(position) or record.rejection
    if rejection is not None:
        return Row(position, rejection.line if rejection.line is not None else line,
                   rejection.to if rejection.to is not None else to, REJECTED_LOCAL,
                   rejection.error_code, rejection.description, False, None, None, None, None,
                   text)
    if unsent is not None and (span is None or span.state == lifecycle.PLANNED or (
            span.state == lifecycle.FAILED and span.retryable)):
        why = unsent.description
        if span is not None and span.note:
            why += f" (its batch was not sent: {span.note})"
        return Row(position, line, to, NOT_SENT, None, why, False, None, None, None, None,
                   text, fate=unsent.fate, nextOpening=unsent.next_opening)
    if span is None:
        return Row(position, line, to, NOT_SENT, None, "never sent: the run stopped before "
                   "this record was sent; send it again", True, None, None, None, None, text)
    if span.accepted and server is not None:
        return Row(position, line, to, REJECTED_SERVER, server.error_code, server.description,
                   False, span.batch_id, None, None, None, text)
    if span.accepted and found is None and span.pending:
        if complete:  # the store is whole now: not in it means rejected
            return Row(position, line, to, REJECTED_SERVER, LOST_CODE, LOST_DESCRIPTION,
                       False, span.batch_id, None, None, None, text)
        return Row(position, line, to, PENDING, None, PENDING_DESCRIPTION, False,
                   span.batch_id, None, None, None, text)
    if span.accepted:
        if found is None:
            return Row(position, line, to, UNKNOWN, None, f"accepted in batch {span.batch_id} "
                       "but not in its message store", False, span.batch_id, None, None, None,
                       text)
        return Row(position, line, to, found.outcome, found.code, found.description,
                   found.retryable, span.batch_id, found.message_id, found.segments,
                   found.cost, text)
    if span.state in (lifecycle.FAILED, lifecycle.PLANNED):
        why = f"its batch was not sent ({span.note})" if span.note else "its batch was not sent"
        return Row(position, line, to, NOT_SENT, None, why, span.retryable, None, None, None,
                   None, text)
    return Row(position, line, to, UNKNOWN, None, "the send could not tell whether its batch "
               f"went out ({span.note or span.state}); check before sending again", False,
               span.batch_id, None, None, None, text)


def wanted(only: Iterable[str]) -> frozenset[str] | None:
    """The outcomes ``--only`` names (None: every row); "retryable", "suppressed" and a
    scheduled send's fates (deferred, daily-cap, expired, no-window: not-sent rows by
    their ``fate``) stay names of their own."""
    names: set[str] = set()
    for name in only:
        if name not in FILTERS:
            raise ValueError(name)
        names.update(GROUPS.get(name, (name,)))
    return frozenset(names) or None


def keep(row: Row, only: frozenset[str] | None) -> bool:
    if only is None:
        return True
    return row.outcome in only or ("retryable" in only and row.retryable) or (
        SUPPRESSED in only and row.outcome == REJECTED_LOCAL and row.errorCode == LCL_OPTED_OUT
    ) or (row.fate is not None and row.fate in only)


def store_needed(only: frozenset[str] | None, statuses: Mapping[str, Any] | None) -> bool:
    """Whether a batch's message store must be read for ``only``, given its status counts
    (None: not read). "retryable" needs it when a retryable error code was counted."""
    if only is None:
        return True
    if statuses is None:
        return bool(only & {*FROM_STORE, "retryable"})
    if any(counted(statuses, outcome)[0] for outcome in only & set(FROM_STORE)):
        return True
    return "retryable" in only and retryable_in(statuses) > 0


def retryable_in(statuses: Mapping[str, Any]) -> int:
    """How many of a batch's messages its status counts show failed with a retryable error
    code: the rows ``classify`` would mark retryable (no opt-out code is)."""
    held = 0
    for key in ("deliveryFailed", "sendingFailed"):
        entry = statuses.get(key)
        codes = entry.get("errorCodeCounts") if isinstance(entry, dict) else None
        for code, n in codes.items() if isinstance(codes, dict) else ():
            if type(n) is int and n > 0 and describe(code)[1] and code not in OPT_OUT_CODES:
                held += n
    return held


def counted(statuses: Mapping[str, Any], outcome: str) -> tuple[int, float]:
    """(messages, cost) a batch's status counts give ``outcome``: the failures with an
    opt-out code are ``opted-out``'s, taken out of ``delivery-failed`` and ``sending-failed``
    (their cost stays with those: /statuses gives cost per status, not per code)."""
    if outcome == OPTED_OUT:
        return sum(_opted_out(statuses.get(key)) for key in ("deliveryFailed",
                                                             "sendingFailed")), 0.0
    entry = statuses.get(STATUS_COUNT_KEYS[outcome])
    if not isinstance(entry, dict):
        return 0, 0.0
    count, cost = entry.get("count"), entry.get("cost")
    count = count if type(count) is int else 0
    if outcome in (DELIVERY_FAILED, SENDING_FAILED):
        count -= _opted_out(entry)
    return max(count, 0), float(cost) if isinstance(cost, int | float) else 0.0


def _opted_out(entry: object) -> int:
    codes = entry.get("errorCodeCounts") if isinstance(entry, dict) else None
    if not isinstance(codes, dict):
        return 0
    return sum(n for code, n in codes.items() if code in OPT_OUT_CODES and type(n) is int)


@dataclass
class Totals:
    """Rows per outcome, retryable rows, and the cost of the messages read."""

    outcomes: Counter[str] = field(default_factory=Counter)
    retryable: int = 0
    cost: float = 0.0
    rows: int = 0

    def add(self, row: Row) -> None:
        self.outcomes[row.outcome] += 1
        self.retryable += row.retryable
        self.cost += row.cost or 0.0
        self.rows += 1

    def add_counts(self, statuses: Mapping[str, Any]) -> None:
        """A batch not read message by message: its status counts stand in for its rows,
        its retryable failures counted by their error codes."""
        self.retryable += retryable_in(statuses)
        for outcome in (*STATUS_COUNT_KEYS, OPTED_OUT):
            count, cost = counted(statuses, outcome)
            if count:
                self.outcomes[outcome] += count
                self.rows += count
            if outcome != QUEUED:
                self.cost += cost

    def as_json(self) -> dict[str, Any]:
        return {"rows": self.rows, **{o: self.outcomes.get(o, 0) for o in OUTCOMES},
                "retryable": self.retryable, "cost": round(self.cost, 6)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Totals:
        return cls(Counter({o: data.get(o, 0) for o in OUTCOMES if data.get(o)}),
                   data.get("retryable", 0), data.get("cost", 0.0), data.get("rows", 0))


def estimate(spans: Iterable[Span], only: frozenset[str] | None, per_page: int = 1000
             ) -> tuple[int, int]:
    """(messages, Light requests) the export needs at most: ceil(messages / per_page) pages per
    batch, plus one /statuses read per batch when ``only`` may let it skip the batch."""
    messages = requests = 0
    for span in spans:
        if not span.accepted or (only is not None and not store_needed(only, None)):
            continue
        messages += span.size
        requests += -(-span.size // per_page) + (only is not None)
    return messages, requests
