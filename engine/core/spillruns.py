"""The pure half of the rejection spill: the record format, where each sorted run begins,
the order runs are merged in, and what stays in memory (counts and a few examples).

Rejections arrive in the order they happen: the reader's in input order, each chunk's from
the server as one burst (sorted before it is written), a resumed journal's in its own order.
Written one after another they form *runs*, each sorted by input position; a run ends
wherever a position goes backwards, so any arrival order is safe (at worst one rejection a
run). The report merges the runs (``heapq.merge``) into one array sorted by position.
The file I/O is engine/run/spill.py's.
"""

from __future__ import annotations

import heapq
import struct
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import count
from operator import itemgetter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.core.localbatch import LocalBatch
    from engine.core.rejections import Rejection

# One spilled rejection: its 0-based input position (fixed width, so the merge compares
# integers without parsing), the length of its JSON, then the JSON bytes as the report holds
# them.
HEAD = struct.Struct("<qI")
FAN_IN = 64  # runs merged at once: each open run holds one small read buffer
KEPT = 20  # rejections kept in memory for display (the lowest positions seen)

Entry = tuple[int, bytes]  # (position, JSON bytes)


def encode(index: int, payload: bytes) -> bytes:
    return HEAD.pack(index, len(payload)) + payload


def decode(buffer: bytes) -> Iterator[Entry]:
    """The entries packed in ``buffer`` (whole records only, as ``encode`` wrote them)."""
    at, size = 0, len(buffer)
    while at < size:
        index, length = HEAD.unpack_from(buffer, at)
        at += HEAD.size
        yield index, buffer[at:at + length]
        at += length


class RunBook:
    """Where each run of a spill begins: a new run whenever a position goes backwards.

    >>> book = RunBook()
    >>> for offset, index in enumerate([3, 5, 9, 2, 4, 4, 1]):
    ...     book.note(index, offset)
    >>> book.runs(7)
    [(0, 3), (3, 6), (6, 7)]
    """

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._last = -1

    def note(self, index: int, offset: int) -> None:
        """A record for position ``index`` written at ``offset`` (a tie goes on the run)."""
        if not self._starts or index < self._last:
            self._starts.append(offset)
        self._last = index

    def note_many(self, first: int, last: int, offset: int) -> None:
        """Records for increasing positions ``first`` .. ``last`` written from ``offset`` on:
        one ``note`` for the first, and the last is where the run now stands."""
        self.note(first, offset)
        self._last = last

    def runs(self, end: int) -> list[tuple[int, int]]:
        """Every run as (start, end) offsets, ``end`` being where the spill ends now."""
        bounds = [*self._starts, end]
        return [(bounds[k], bounds[k + 1]) for k in range(len(self._starts))
                if bounds[k] < bounds[k + 1]]


def merge(runs: Iterable[Iterator[Entry]]) -> Iterator[Entry]:
    """Sorted runs merged into one stream by position; on a tie the earlier run first."""
    return heapq.merge(*runs, key=itemgetter(0))


def cascade(runs: int, fan_in: int = FAN_IN) -> list[list[range]]:
    """The passes that bring ``runs`` runs down to at most ``fan_in`` for the final merge:
    each pass is a list of groups (consecutive runs, merged into one), so no merge ever
    reads more than ``fan_in`` runs at once.

    >>> [[(g.start, g.stop) for g in p] for p in cascade(130, 64)]
    [[(0, 64), (64, 128), (128, 130)]]
    >>> cascade(64, 64)
    []
    """
    if fan_in < 2:
        raise ValueError("a merge needs a fan-in of at least 2")
    passes = []
    while runs > fan_in:
        groups = [range(k, min(k + fan_in, runs)) for k in range(0, runs, fan_in)]
        passes.append(groups)
        runs = len(groups)
    return passes


@dataclass
class Tally:
    """What stays in memory of the rejections: counts by source and code, the ``keep`` at
    the lowest positions (for display), and per code the one at the lowest position (the
    mostly-rejected warning's example). Bounded whatever the number of rejections."""

    keep: int = KEPT
    by_code: Counter[str] = field(default_factory=Counter)
    examples: dict[str, Rejection] = field(default_factory=dict)
    _first: list[tuple[int, int, Rejection]] = field(default_factory=list)  # max-heap
    _seq: Iterator[int] = field(default_factory=count)

    def add(self, rejection: Rejection) -> None:
        code = rejection.error_code
        self.by_code[code] += 1
        known = self.examples.get(code)
        if known is None or rejection.index < known.index:
            self.examples[code] = rejection
        if self._wants(rejection.index):
            self._keep(rejection)

    def add_many(self, batch: LocalBatch) -> None:
        """What ``add`` of each of a reader's block of rejections would do: counted by code
        at once, and only the few kept built: per code its first, and the block's first ones
        while they are lower than those kept (its positions increase)."""
        counts = batch.counts()
        self.by_code.update(counts)
        for code in counts:
            offset = batch.first_offset(code)
            known = self.examples.get(code)
            if known is None or batch.start + offset < known.index:
                self.examples[code] = batch.rejection_at(offset)
        if self.keep <= 0:
            return
        for offset in batch.offsets():
            if not self._wants(batch.start + offset):
                return  # the rest of the block is higher still
            self._keep(batch.rejection_at(offset))

    def _wants(self, index: int) -> bool:
        """Whether a rejection at ``index`` goes among the kept ones (the common case on a
        bad list is no: no lower than those kept, and nothing is built)."""
        first = self._first
        return self.keep > 0 and (len(first) < self.keep or index < -first[0][0])

    def _keep(self, rejection: Rejection) -> None:
        item = (-rejection.index, -next(self._seq), rejection)
        if len(self._first) < self.keep:
            heapq.heappush(self._first, item)
        else:
            heapq.heapreplace(self._first, item)

    def first(self) -> list[Rejection]:
        """The kept rejections by position (arrival order on a tie)."""
        return [r for _, _, r in sorted(self._first, reverse=True)]

    @property
    def total(self) -> int:
        return sum(self.by_code.values())
