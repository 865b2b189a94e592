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
from datetime import datetime
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


def _digest(*parts: str) -> int:
    data = "\x00".join(parts).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little", signed=True)


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
        pairs, tos = array("q"), array("q")
        for to, text in messages:
            tos.append(_digest(to))
            pairs.append(_digest(to, text or ""))
        return cls(sender, len(tos), array("q", sorted(pairs)), array("q", sorted(tos)))

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
    date_from: str
    interval: float = 1.0
    max_interval: float = 60.0
    looks: int = 0
    created_after: float | None = None  # server clock: when the lost request went out
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
            self._found = batch
        else:
            self._not_ours.add(batch_id)

    def disown(self, batch_id: str) -> None:
        """Another chunk claimed the batch found first: keep looking."""
        self._not_ours.add(batch_id)
        self._found = None

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"from": self.expected.sender, "dateFrom": self.date_from}
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
        if final:
            if not self._unsure:
                return Absent()
            batch_id, why = next(iter(self._unsure.items()))
            return Undecided(f"after {self.window:g} s batch {batch_id} could still be this "
                             f"chunk's ({why})")
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
            and not self._too_early(batch.get("creationTime"))

    def _too_early(self, creation_time: Any) -> bool:
        """Created before the lost request went out: an earlier batch (a smoke test to part
        of the list, a previous run), never this request's. No stamp: cannot tell, so kept."""
        if self.created_after is None or not isinstance(creation_time, str):
            return False
        try:
            stamp = datetime.fromisoformat(creation_time).timestamp()
        except ValueError:
            return False
        return stamp < self.created_after - CLOCK_MARGIN

    def _matches(self, message: Any) -> bool:
        """Same recipient with the same text: another campaign from this sender to the same
        list must not be mistaken for ours."""
        to = message.get("to") if isinstance(message, dict) else None
        if not isinstance(to, list) or not to or not isinstance(to[0], str):
            return False
        text = message.get("text")
        return self.expected.holds(to[0], text if isinstance(text, str) else None)
