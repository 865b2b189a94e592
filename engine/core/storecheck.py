"""After a lost answer: which of an adopted chunk's recipients did the server reject? A pure
decision, fed what the batch's message store lists and the time; it never reads anything.

The answer that carried the batch's ``rejected`` list was lost, so the rejections are read
back from the message store: a recipient of the chunk the store does not hold was rejected.
That holds only once the store is complete. A store can lag ``Completed`` by tens of seconds,
and a recipient not listed *yet* may well have been texted. So:

- settled once a full read lists as many messages as the batch holds (``batchSize``, the
  messages it accepted) and exactly ``count - batchSize`` of the chunk's recipients are absent
  from it: those are the server's rejections;
- otherwise read again, backing off, until ``window`` seconds have passed since the first
  read; a read that begins after that and is still incomplete ends the search **pending**:
  the absent recipients are neither rejected nor sent as far as anyone can tell yet, and a
  later ``--resume`` or ``a2p outcomes`` reads the store again.

    >>> s = StoreSettle(("+14155550100", "+14155550101"), batch_size=1, started=0.0,
    ...                 window=10.0)
    >>> s.next(0.0)
    ReadStore()
    >>> s.read(Counter({"+14155550101": 1}), listed=1)
    >>> s.next(0.0)
    Settled(missing=(1,), listed=1)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

LOST_DESCRIPTION = ("rejected by the server; its error code was lost with the answer to the "
                    "request that created the batch")
PENDING_DESCRIPTION = ("not in its batch's message store, which does not list the whole "
                       "batch yet: it may have been texted. Not retryable; run 'a2p outcomes' "
                       "again later to settle it")


@dataclass(frozen=True, slots=True)
class ReadStore:
    """GET .../messages?batchId= of the batch, every page."""


@dataclass(frozen=True, slots=True)
class Wait:
    seconds: float


@dataclass(frozen=True, slots=True)
class Settled:
    """The store is complete: ``missing`` (1-based indexes into the chunk's messages) are the
    server's rejections."""

    missing: tuple[int, ...]
    listed: int


@dataclass(frozen=True, slots=True)
class Pending:
    """The window passed with the store still incomplete: ``missing`` (1-based indexes) are
    not listed yet, and may have been texted."""

    missing: tuple[int, ...]
    listed: int
    reason: str


Step = ReadStore | Wait | Settled | Pending


def absent(tos: Sequence[str], held: Counter[str]) -> tuple[int, ...]:
    """The 1-based indexes of ``tos`` the store does not hold; a number sent twice in one
    chunk needs two records."""
    left = Counter(held)
    missing = []
    for k, to in enumerate(tos, start=1):
        if left[to] > 0:
            left[to] -= 1
        else:
            missing.append(k)
    return tuple(missing)


def complete(count: int, batch_size: int, listed: int, missing: int) -> bool:
    """The store proves the chunk's rejections: it lists every message the batch holds, and
    every one it lists is one of the chunk's recipients (so exactly ``count - batch_size`` are
    absent)."""
    return 0 <= batch_size <= count and listed >= batch_size and missing == count - batch_size


@dataclass
class StoreSettle:
    """One adopted chunk's wait for a complete store. ``next(now)`` says what to do;
    ``read`` and ``failed`` take what a read gave."""

    tos: Sequence[str]
    batch_size: int
    started: float
    window: float
    interval: float = 1.0
    max_interval: float = 60.0
    reads: int = 0
    _next_read: float = field(init=False)
    _read_started: float | None = None
    _missing: tuple[int, ...] | None = None
    _listed: int = 0
    _why: str = "the store was not read"
    _result: Settled | Pending | None = None

    def __post_init__(self) -> None:
        self._next_read = self.started

    @property
    def window_end(self) -> float:
        return self.started + self.window

    def next(self, now: float) -> Step:
        if self._result is not None:
            return self._result
        assert self._read_started is None, "answer the read asked for first"
        if now < self._next_read:
            return Wait(self._next_read - now)
        self._read_started = now
        return ReadStore()

    def read(self, held: Counter[str], listed: int) -> None:
        """A full read of the store: how many records of each number it listed, in all."""
        missing = absent(self.tos, held)
        self._missing, self._listed = missing, listed
        if complete(len(self.tos), self.batch_size, listed, len(missing)):
            self._read_started = None
            self._result = Settled(missing, listed)
            return
        self._why = (f"the message store listed {listed:,} of the batch's "
                     f"{self.batch_size:,} messages")
        self._after_read()

    def failed(self, why: str) -> None:
        """A read that could not be finished (an error the client gave up on)."""
        self._why = f"the message store could not be read ({why})"
        self._after_read()

    def _after_read(self) -> None:
        started, self._read_started = self._read_started, None
        assert started is not None
        self.reads += 1
        if started >= self.window_end:
            missing = self._missing if self._missing is not None else \
                tuple(range(1, len(self.tos) + 1))
            self._result = Pending(missing, self._listed,
                                   f"{self._why} after {self.window:g} s")
            return
        self._next_read = min(started + self.interval, self.window_end)
        self.interval = min(self.max_interval, self.interval * 2)
