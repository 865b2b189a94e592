"""Which chunk holds which input position: each chunk's membership and the whole journal's.

A chunk holds the positions of its range ``first``..``last`` less its gaps (the positions
other chunks held when it was cut, or, in a scheduled round, every position the round left
out). A few gaps are kept as ranges; many (a round over an interleaved list leaves out every
other recipient) as a bitmap of the range, one bit a position (bit ``p - first`` set: ``p`` is
held), journaled compressed (``held``: base64 of zlib). Either way the same positions: the
encoding never changes what a chunk holds, and a bitmap costs at most one bit a position of
its range where the ranges cost a tuple a gap.

``Holdings`` answers "which chunk holds position p" for the chunks a resume keeps, without
listing their positions: the chunks are laid in layers of disjoint ranges (a run's chunks
are cut from one stream, so one layer each, however many rounds interleave), and a lookup is
a bisect a layer and, for a bitmap, a bit test.
"""

from __future__ import annotations

import base64
import heapq
import re
import zlib
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

Interval = tuple[int, int]  # first and last input position, both included
GAPS_MAX = 16  # gaps kept as ranges; more, and the chunk's range is kept as a bitmap

_SET = re.compile(rb"\xff+|[^\x00]")  # runs of full bytes, or one byte with some bit set
# the runs of set bits inside each byte value, bit 0 first: (lowest, highest) bit
_BYTE_RUNS: list[tuple[Interval, ...]] = []
for _value in range(256):
    _runs, _start = [], None
    for _bit in range(9):
        if _bit < 8 and _value >> _bit & 1:
            _start = _bit if _start is None else _start
        elif _start is not None:
            _runs.append((_start, _bit - 1))
            _start = None
    _BYTE_RUNS.append(tuple(_runs))


def pieces(first: int, last: int, gaps: Iterable[Interval]) -> list[Interval]:
    """The position ranges of ``first``..``last`` outside ``gaps``: where a chunk's own
    records lie (and the records rejected locally between them)."""
    out, at = [], first
    for a, b in sorted(gaps):
        if a > at:
            out.append((at, min(a - 1, last)))
        at = max(at, b + 1)
    if at <= last:
        out.append((at, last))
    return out


def _set_range(bits: bytearray, i: int, j: int) -> None:
    """Set bits ``i``..``j`` (included): whole bytes in one slice."""
    lo, hi = i >> 3, j >> 3
    if lo == hi:
        bits[lo] |= ((0xFF << (i & 7)) & 0xFF) & (0xFF >> (7 - (j & 7)))
        return
    bits[lo] |= (0xFF << (i & 7)) & 0xFF
    bits[lo + 1:hi] = b"\xff" * (hi - lo - 1)
    bits[hi] |= 0xFF >> (7 - (j & 7))


def bit_runs(bits: bytes, lo: int, hi: int) -> Iterator[Interval]:
    """The maximal runs (first, last bit) of set bits of ``bits`` between bits ``lo`` and
    ``hi`` (included): a step a run or a byte, whole zero and full bytes skipped at C speed."""
    if hi < lo:
        return
    yield from _joined(_clipped_runs(bits, lo, hi))


def _clipped_runs(bits: bytes, lo: int, hi: int) -> Iterator[Interval]:
    """The runs of set bits of each set byte (or run of full bytes) between bits ``lo`` and
    ``hi``, ascending: a run may end where the next begins."""
    for match in _SET.finditer(bits, lo >> 3, (hi >> 3) + 1):
        base = match.start() << 3
        if match.end() - match.start() > 1 or bits[match.start()] == 0xFF:
            found: Iterable[Interval] = ((base, (match.end() << 3) - 1),)
        else:
            found = ((base + a, base + b) for a, b in _BYTE_RUNS[bits[match.start()]])
        for a, b in found:
            a, b = max(a, lo), min(b, hi)
            if a <= b:
                yield a, b


def _joined(runs: Iterable[Interval]) -> Iterator[Interval]:
    """The maximal runs of ``runs`` (of positions >= 0, by ascending start): the ones that
    touch or overlap joined into one."""
    start = end = -2
    for a, b in runs:
        if a <= end + 1:
            end = max(end, b)
            continue
        if start >= 0:
            yield start, end
        start, end = a, b
    if start >= 0:
        yield start, end


@dataclass(frozen=True, slots=True)
class Members:
    """The positions a chunk holds: its range less ``gaps``, or, with ``bits``, exactly the
    positions whose bit is set."""

    first: int
    last: int
    gaps: tuple[Interval, ...] = ()
    bits: bytes | None = None

    @classmethod
    def of_gaps(cls, first: int, last: int, gaps: Sequence[Interval]) -> Members:
        """A chunk's range less ``gaps``: as ranges while they are few, else as a bitmap."""
        if len(gaps) <= GAPS_MAX:
            return cls(first, last, tuple((a, b) for a, b in gaps))
        return cls.of_runs(first, last, pieces(first, last, gaps))

    @classmethod
    def of_runs(cls, first: int, last: int, runs: Iterable[Interval]) -> Members:
        """The positions of ``runs`` (sorted, disjoint, inside the range): as a bitmap; kept
        as gaps instead when they are few."""
        bits = bytearray((last - first) // 8 + 1)
        kept: list[Interval] = []  # the first few: the gaps between them, when that is all
        for a, b in runs:
            _set_range(bits, a - first, b - first)
            if len(kept) <= GAPS_MAX + 1:
                kept.append((a, b))
        if len(kept) <= GAPS_MAX + 1:
            gaps = [(b + 1, c - 1) for (_, b), (c, _) in pairwise(kept) if c > b + 1]
            gaps = ([(first, kept[0][0] - 1)] if kept and kept[0][0] > first else []) + gaps
            if kept and kept[-1][1] < last:
                gaps.append((kept[-1][1] + 1, last))
            if not kept:
                gaps = [(first, last)]
            return cls(first, last, tuple(gaps))
        return cls(first, last, (), bytes(bits))

    @classmethod
    def from_json(cls, first: int, last: int, gaps: Iterable[Sequence[int]] | None,
                  held: str | None) -> Members:
        """A chunk entry's (``gaps`` or ``held``); a long list of ``gaps`` (a journal written
        before ``held``) becomes a bitmap as it is read."""
        if held is not None:
            size = (last - first) // 8 + 1
            bits = zlib.decompress(base64.b64decode(held))
            if len(bits) != size:
                raise ValueError(f"a chunk's held bitmap has {len(bits)} bytes, not {size}")
            return cls(first, last, (), bits)
        return cls.of_gaps(first, last, [(a, b) for a, b in gaps or ()])

    def json_fields(self) -> dict[str, object]:
        """What its chunk entry journals: ``gaps`` (none when it holds its whole range) or
        ``held``."""
        if self.bits is not None:
            return {"held": base64.b64encode(zlib.compress(self.bits, 9)).decode("ascii")}
        return {"gaps": [list(gap) for gap in self.gaps]} if self.gaps else {}

    def holds(self, position: int) -> bool:
        if not self.first <= position <= self.last:
            return False
        if self.bits is None:
            return not any(a <= position <= b for a, b in self.gaps)
        at = position - self.first
        return bool(self.bits[at >> 3] >> (at & 7) & 1)

    def runs(self, lo: int | None = None, hi: int | None = None) -> Iterator[Interval]:
        """The ranges of positions it holds (between ``lo`` and ``hi``), in order."""
        lo = self.first if lo is None else max(lo, self.first)
        hi = self.last if hi is None else min(hi, self.last)
        if self.bits is None:
            for a, b in pieces(self.first, self.last, self.gaps):
                if b >= lo and a <= hi:
                    yield max(a, lo), min(b, hi)
            return
        for a, b in bit_runs(self.bits, lo - self.first, hi - self.first):
            yield a + self.first, b + self.first

    @property
    def nbytes(self) -> int:
        """What it keeps in memory beyond its object (its bitmap or gap ranges)."""
        return len(self.bits) if self.bits is not None else 16 * len(self.gaps)


Entry = tuple[int, int, int, Members | None]  # (first, last, chunk, its members; None: all)


class Layer:
    """Entries of disjoint ranges in order: a chunk with few gaps gives one entry a piece
    (all held), a chunk with a bitmap one entry (its range, its bits)."""

    __slots__ = ("ends", "entries", "starts")

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.starts: list[int] = []
        self.ends: list[int] = []

    def add(self, number: int, members: Members) -> None:
        if members.bits is not None:
            found: Iterable[tuple[Interval, Members | None]] = \
                (((members.first, members.last), members),)
        else:
            found = ((piece, None) for piece in pieces(members.first, members.last,
                                                       members.gaps))
        for (a, b), held in found:
            self.entries.append((a, b, number, held))
            self.starts.append(a)
            self.ends.append(b)

    def only_bitmaps(self) -> Layer | None:
        """A layer of its bitmap entries alone; None: it has none."""
        out = Layer()
        for entry in self.entries:
            if entry[3] is not None:
                out.entries.append(entry)
                out.starts.append(entry[0])
                out.ends.append(entry[1])
        return out if out.entries else None

    def holder(self, position: int) -> int | None:
        k = bisect_right(self.starts, position) - 1
        if k < 0 or position > self.ends[k]:
            return None
        _, _, number, held = self.entries[k]
        return number if held is None or held.holds(position) else None


class Holdings:
    """The positions the chunks kept hold, asked a position at a time."""

    def __init__(self, chunks: Iterable[tuple[int, Members]] = ()) -> None:
        self.layers: list[Layer] = []
        self.members: dict[int, Members] = {}
        ends: list[tuple[int, int]] = []  # (last end, layer): a heap, the earliest end first
        for number, members in sorted(chunks, key=lambda c: (c[1].first, c[0])):
            self.members[number] = members
            if ends and ends[0][0] < members.first:
                _, k = heapq.heappop(ends)
            else:
                k = len(self.layers)
                self.layers.append(Layer())
            self.layers[k].add(number, members)
            heapq.heappush(ends, (members.last, k))
        self.top = max((m.last for m in self.members.values()), default=-1)
        # the pieces held whole, merged (a resume that is not scheduled has only these: one
        # bisect a position, as before), and the layers' bitmap entries alone
        self._whole_starts: list[int] = []
        self._whole_ends: list[int] = []
        for a, b, _, _ in sorted(e for layer in self.layers for e in layer.entries
                                 if e[3] is None):
            if self._whole_ends and a <= self._whole_ends[-1] + 1:
                self._whole_ends[-1] = max(self._whole_ends[-1], b)
            else:
                self._whole_starts.append(a)
                self._whole_ends.append(b)
        self._bitmaps = [bitmaps for layer in self.layers
                         if (bitmaps := layer.only_bitmaps()) is not None]

    @classmethod
    def of_ranges(cls, ranges: Iterable[Interval]) -> Holdings:
        """Ranges held whole, numbered 1, 2, ... (tests, and chunks of a journal alike)."""
        return cls((k, Members(a, b)) for k, (a, b) in enumerate(ranges, 1))

    def __bool__(self) -> bool:
        return bool(self.members)

    def holder(self, position: int) -> int | None:
        """The chunk that holds ``position``; None: none does."""
        if position > self.top:
            return None
        for layer in self.layers:
            number = layer.holder(position)
            if number is not None:
                return number
        return None

    def covers(self, position: int) -> bool:
        k = bisect_right(self._whole_starts, position) - 1
        if k >= 0 and position <= self._whole_ends[k]:
            return True
        return any(layer.holder(position) is not None for layer in self._bitmaps)

    def covers_all(self, lo: int, hi: int) -> bool:
        """Whether one piece held whole covers ``lo``..``hi`` (a block a resume skips)."""
        k = bisect_right(self._whole_starts, lo) - 1
        return k >= 0 and hi <= self._whole_ends[k]

    def covered(self, lo: int, hi: int) -> Iterator[Interval]:
        """The maximal ranges of ``lo``..``hi`` some chunk holds, in order."""
        found: list[Interval] = []
        for layer in self.layers:
            k = max(bisect_right(layer.starts, lo) - 1, 0)
            while k < len(layer.entries) and layer.starts[k] <= hi:
                a, b, _, held = layer.entries[k]
                if b >= lo:
                    found.extend(held.runs(lo, hi) if held is not None
                                 else ((max(a, lo), min(b, hi)),))
                k += 1
        yield from _joined(sorted(found))

    def next_free(self, lo: int, hi: int) -> int | None:
        """The first position of ``lo``..``hi`` no chunk holds; None: all are held. Steps a
        whole piece at a time where one is held whole."""
        at = lo
        while at <= hi:
            step = at + 1
            for layer in self.layers:
                k = bisect_right(layer.starts, at) - 1
                if k < 0 or at > layer.ends[k]:
                    continue
                _, b, _, held = layer.entries[k]
                if held is None:
                    step = b + 1
                    break
                if held.holds(at):
                    break
            else:
                return at
            at = step
        return None

    def ranges(self) -> list[Interval]:
        """Every piece held, overlapping ones merged (adjacent ones not): one a run of
        positions, so for tests and small journals (not a big scheduled one)."""
        out: list[Interval] = []
        for a, b in sorted(run for members in self.members.values()
                           for run in members.runs()):
            if out and a <= out[-1][1]:
                out[-1] = (out[-1][0], max(b, out[-1][1]))
            else:
                out.append((a, b))
        return out

    @property
    def nbytes(self) -> int:
        """What its chunks' memberships and its layers keep (bitmaps, and about 100 bytes
        an entry)."""
        entries = sum(len(layer.entries) for layer in self.layers)
        return sum(m.nbytes for m in self.members.values()) + 100 * entries
