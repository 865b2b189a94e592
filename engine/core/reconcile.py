"""After a lost answer: did the request create a batch? A pure decision, fed what the server
lists and the time; it never reads anything itself.

A POST whose answer was lost (no answer, timeout, reset, any 5xx) may have created a
batch that is listed already, created and not listed yet, created later by a backend that kept
working after the gateway gave up, or never created. Only time tells the last two apart, so
the batch is looked for again and again until a settle window has passed since the request:

- adopt as soon as a look finds a batch whose listed messages are all the chunk's recipients
  with the chunk's texts (same sender, no larger than the chunk, owned by no other chunk);
- a candidate whose messages cannot be listed yet is "cannot tell yet", never "not ours";
- absent only when a look that began after the window found nothing that could be it;
- undecided when that last look still holds a candidate it cannot tell.

When the request went out is known on our clock (``SentAt``); where that falls on the server's
creation clock is known only once a batch's creationTime has been read (a Date header may come
from a gateway's clock, not the backend's). Each look takes the best calibration then
(``calibrate``). A batch that is the chunk's in every way but was created before the request
by an uncalibrated reckoning is never ruled out: it holds the verdict at undecided.

    >>> r = Reconciliation(Expected.of("+16505550100", [("+14155550100", "Hi")]), set(),
    ...                    started=0.0, window=10.0, date_from="2026-11-25T12:00:00+00:00")
    >>> r.next(0.0)
    ReadListing(params={'from': '+16505550100', 'dateFrom': '2026-11-25T12:00:00+00:00'})
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.core.paging import PageWalk

MESSAGES_PER_PAGE = 1000  # perPage maximum of GET .../messages (spec)
# How much earlier than the moment the lost request went out (as the engine reckons the
# server's clock) a batch it created may be stamped. That reckoning already errs early: a Date
# header is cut to the second and read after the trip back, and a creationTime is stamped
# before it is read. What is left is skew between the server's own hosts and drift between
# readings, well under a second with NTP; 3 s covers it with room. Not a minute: a smoke test
# of the same text to the first rows, sent a little earlier, must never be taken for ours.
CLOCK_MARGIN = 3.0
DATE_MARGIN = 60.0  # dateFrom this long before the request (calibrated): the listing's slack
# dateFrom this long before the request when the server's creation clock is not calibrated
# yet (as far back as a resumed run looks): a clock off by more is outside what is handled.
UNCALIBRATED_MARGIN = 3600.0
# windows more that a search goes on while a candidate batch lists no messages yet: it waits
# behind the sender's other batches, and a message store lists messages once processing
# starts. Bounded: then the chunk is left unknown, and --resume looks again.
UNSURE_GRACE = 4.0


def creation_offset(pairs: Iterable[tuple[str | None, str | None]]) -> float | None:
    """The backend's creation clock minus ours, from (submittedAt, createdAt) pairs of batches
    a run made (a journal): the smallest, since each creation came a little after its
    request went out; None when there is none."""
    offsets = []
    for submitted, created in pairs:
        if submitted and created:
            try:
                offsets.append(datetime.fromisoformat(created).timestamp()
                               - datetime.fromisoformat(submitted).timestamp())
            except ValueError:
                continue
    return min(offsets, default=None)


@dataclass(frozen=True, slots=True)
class SentAt:
    """When the lost request went out: ``local`` is our wall clock then (epoch seconds);
    ``offset`` the backend's creation clock minus ours, from a batch's creationTime (None: not
    calibrated); ``guess`` an uncalibrated offset (a Date header), used only to place
    ``dateFrom``, never to rule a batch out."""

    local: float
    offset: float | None = None
    guess: float = 0.0

    @property
    def calibrated(self) -> bool:
        return self.offset is not None

    def server(self) -> float:
        """The request's moment on the server's creation clock, as well as known."""
        return self.local + (self.offset if self.offset is not None else self.guess)

    def date_from(self) -> float:
        if self.offset is not None:
            return self.local + self.offset - DATE_MARGIN
        return self.local + min(self.guess, 0.0) - UNCALIBRATED_MARGIN


def _digest(*parts: str) -> int:
    data = "\x00".join(parts).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little", signed=True)


def _merged(buckets: list[array[int]]) -> array[int]:
    """The keys of every bucket, sorted (each bucket holds keys of one top byte, in the
    order of the buckets); each bucket is freed once copied."""
    out = array("q")
    for k, bucket in enumerate(buckets):
        out.extend(sorted(bucket))
        buckets[k] = array("q")
    return out


@dataclass(frozen=True, slots=True)
class Expected:
    """What the lost request held: its sender, its size, and a fingerprint of each
    (recipient, text): 16 bytes a recipient, so a 50 MB body need not stay in memory."""

    sender: str
    count: int
    _pairs: array[int]
    _tos: array[int]

    @classmethod
    def of(cls, sender: str, messages: Iterable[tuple[str, str | None]]) -> Expected:
        # kept in 256 arrays by their top byte and sorted one array at a time: sorting them
        # whole would make one list of every fingerprint (48 bytes each, three times the
        # tables themselves) for two million recipients
        pairs = [array("q") for _ in range(256)]
        tos = [array("q") for _ in range(256)]
        count = 0
        for to, text in messages:
            key = _digest(to)
            tos[(key >> 56) + 128].append(key)
            key = _digest(to, text or "")
            pairs[(key >> 56) + 128].append(key)
            count += 1
        return cls(sender, count, _merged(pairs), _merged(tos))

    def holds(self, to: str, text: str | None) -> bool:
        """The chunk has this recipient with this text (any text when ``text`` is None)."""
        table, key = (self._tos, _digest(to)) if text is None else \
            (self._pairs, _digest(to, text))
        k = bisect_left(table, key)
        return k < len(table) and table[k] == key


@dataclass(frozen=True, slots=True)
class ReadListing:
    """GET .../batches with these parameters (one page)."""

    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReadMessages:
    """GET .../messages with these parameters: the first page of one candidate's messages."""

    batch_id: str
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Wait:
    seconds: float


@dataclass(frozen=True, slots=True)
class Adopt:
    """The lost request created this batch."""

    batch: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Absent:
    """Every look to the end of the window found nothing that could be it: safe to resend."""


@dataclass(frozen=True, slots=True)
class Undecided:
    """The window ended with a candidate that could not be told apart."""

    reason: str


Step = ReadListing | ReadMessages | Wait | Adopt | Absent | Undecided


@dataclass
class Reconciliation:
    """One chunk's search. ``next(now)`` says what to do; ``listing`` and ``messages`` take
    the answers. ``owned`` holds the batch ids other chunks own (read at each decision)."""

    expected: Expected
    owned: Container[str]
    started: float
    window: float
    date_from: str | None  # None: from ``sent``, at each look
    interval: float = 1.0
    max_interval: float = 60.0
    looks: int = 0
    created_after: float | None = None  # server clock, calibrated: when the request went out
    sent: SentAt | None = None  # when given, the bound comes from it (and ``calibrate``)
    # seconds after the window the looks go on while a candidate lists no messages yet (None:
    # UNSURE_GRACE windows): it waits behind the number's other batches to start processing,
    # and messages are listed once it does (messages-after-start)
    unsure_grace: float | None = None
    _look_calibrated: bool = True
    _look_date_from: str = ""
    _early: set[str] = field(default_factory=set)  # this look's, ruled out by time alone
    _held: dict[str, str] = field(default_factory=dict)  # early, uncalibrated, and matching
    _look_started: float | None = None
    _next_look: float = 0.0
    _token: str | None = None
    _listing_done: bool = False
    _queue: list[dict[str, Any]] = field(default_factory=list)
    _unsure: dict[str, str] = field(default_factory=dict)
    _not_ours: set[str] = field(default_factory=set)
    _found: dict[str, Any] | None = None
    _walk: PageWalk = field(default_factory=lambda: PageWalk("GET .../batches"))

    def __post_init__(self) -> None:
        self._next_look = self.started

    @property
    def window_end(self) -> float:
        return self.started + self.window

    def next(self, now: float) -> Step:
        if self._found is not None:
            return Adopt(self._found)
        if self._look_started is not None:
            if self._queue:
                return self._read_messages(self._queue[0])
            if not self._listing_done:
                return ReadListing(self._params())
            return self._end_look(now)
        if now < self._next_look:
            return Wait(self._next_look - now)
        self._look_started, self._token, self._listing_done = now, None, False
        self._unsure.clear()
        self._early.clear()
        self._held.clear()
        self._look_calibrated = self.calibrated
        self._look_date_from = self._date_from()
        self._walk = PageWalk("GET .../batches (looking for a batch whose answer was lost)")
        self.looks += 1
        return ReadListing(self._params())

    def listing(self, records: list[dict[str, Any]], next_token: str | None) -> None:
        """One page of the sender's batches since ``date_from``; a repeated page token raises
        PagingError."""
        _, next_token = self._walk.page((records, next_token))
        self._queue += [r for r in records if self._candidate(r)]
        self._token = next_token
        self._listing_done = next_token is None

    def messages(self, batch_id: str, records: list[dict[str, Any]]) -> None:
        """The first page of a candidate's messages."""
        batch = self._queue.pop(0)
        assert batch["id"] == batch_id, "answers must come in the order asked"
        if not records:
            self._unsure[batch_id] = "its messages are not listed yet"
        elif all(self._matches(m) for m in records):
            if batch_id in self._early:
                self._held[batch_id] = str(batch.get("creationTime"))
            else:
                self._found = batch
        else:
            self._not_ours.add(batch_id)

    @property
    def calibrated(self) -> bool:
        return self.sent is None or self.sent.calibrated

    def calibrate(self, offset: float | None) -> None:
        """The backend's creation clock minus ours, as known now (None: still unknown); a
        look takes what is known when it begins."""
        if self.sent is not None and offset is not None:
            self.sent = SentAt(self.sent.local, offset, self.sent.guess)

    def _date_from(self) -> str:
        if self.date_from is not None:
            return self.date_from
        assert self.sent is not None, "a date_from or a sent time is needed"
        return datetime.fromtimestamp(self.sent.date_from(), UTC).isoformat()

    def disown(self, batch_id: str) -> None:
        """Another chunk claimed the batch found first: keep looking."""
        self._not_ours.add(batch_id)
        self._found = None

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"from": self.expected.sender,
                                  "dateFrom": self._look_date_from or self._date_from()}
        if self._token:
            params["pageToken"] = self._token
        return params

    def _read_messages(self, batch: dict[str, Any]) -> ReadMessages:
        per_page = min(MESSAGES_PER_PAGE, batch["batchSize"])
        return ReadMessages(batch["id"], {"batchId": batch["id"], "perPage": per_page,
                                          "view": "Detailed"})

    def _end_look(self, now: float) -> Step:
        assert self._look_started is not None
        final = self._look_started >= self.window_end
        self._look_started = None
        if final and self._held and not self._look_calibrated and self.calibrated:
            self._next_look = now  # calibrated during this look: one more look rules on them
            return self.next(now)
        grace = self.window * UNSURE_GRACE if self.unsure_grace is None else self.unsure_grace
        if final and self._unsure and not self._held and now < self.window_end + grace:
            # a candidate lists no messages yet: it has not started processing, and it will
            # (a batch that exists is processed): look again, for a while longer
            self._next_look = now + self.interval
            self.interval = min(self.max_interval, self.interval * 2)
            return self.next(now)
        if final:
            if self._unsure:
                batch_id, why = next(iter(self._unsure.items()))
                return Undecided(f"after {self.window + grace:g} s batch {batch_id} could "
                                 f"still be this chunk's ({why})")
            if self._held:
                batch_id, created = next(iter(self._held.items()))
                return Undecided(
                    f"batch {batch_id} holds this chunk's recipients and texts but was "
                    f"created ({created}) before the request went out as reckoned without a "
                    "calibrated server clock (no batch creationTime read yet): it may be this "
                    "chunk's or an identical earlier one")
            return Absent()
        self._next_look = min(now + self.interval, self.window_end)
        self.interval = min(self.max_interval, self.interval * 2)
        return self.next(now)

    def _candidate(self, batch: Any) -> bool:
        if not isinstance(batch, dict):
            return False
        batch_id, size = batch.get("id"), batch.get("batchSize")
        return isinstance(batch_id, str) and batch_id not in self.owned and \
            batch_id not in self._not_ours and batch.get("from", self.expected.sender) == \
            self.expected.sender and type(size) is int and 0 < size <= self.expected.count \
            and self._in_time(batch_id, batch.get("creationTime"))

    def _in_time(self, batch_id: str, creation_time: Any) -> bool:
        """Not created before the lost request went out: an earlier batch (a smoke test to
        part of the list, a previous run) is never this request's, when the server's clock is
        calibrated. Uncalibrated, such a batch is still read (``_early``): if it is the
        chunk's in every other way, it holds the verdict. No stamp: cannot tell, so kept."""
        if not self._too_early(creation_time):
            return True
        if self._look_calibrated:
            return False
        self._early.add(batch_id)
        return True

    def _too_early(self, creation_time: Any) -> bool:
        bound = self.created_after if self.sent is None else self.sent.server()
        if bound is None or not isinstance(creation_time, str):
            return False
        try:
            stamp = datetime.fromisoformat(creation_time).timestamp()
        except ValueError:
            return False
        return stamp < bound - CLOCK_MARGIN

    def _matches(self, message: Any) -> bool:
        """Same recipient with the same text: another campaign from this sender to the same
        list must not be mistaken for ours."""
        to = message.get("to") if isinstance(message, dict) else None
        if not isinstance(to, list) or not to or not isinstance(to[0], str):
            return False
        text = message.get("text")
        return self.expected.holds(to[0], text if isinstance(text, str) else None)
