"""A compact, read-only set of input positions: the records a journal says were rejected
locally, held for membership tests without an object per position.

Runs of consecutive positions are kept as ranges (two ``array('q')`` of starts and ends: 16
bytes a run, however long), positions alone as points (one ``array('q')``: 8 bytes each), so a
rejection costs at most 8 bytes and a list whose rows are nearly all bad (a wrong column) costs
next to nothing: 16 bytes for a run of n is 16/n a position. Membership is two binary searches.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Set
from typing import Any

Interval = tuple[int, int]  # first and last position, both included


class Positions(Set[int]):
    """Sorted disjoint ranges and single points, none adjacent to another (a point next to a
    range or to another point is part of a range), built once by ``PositionsBuilder``."""

    __slots__ = ("_count", "_ends", "_points", "_starts")

    def __init__(self, starts: array[int] | None = None, ends: array[int] | None = None,
                 points: array[int] | None = None) -> None:
        self._starts = starts if starts is not None else array("q")
        self._ends = ends if ends is not None else array("q")
        self._points = points if points is not None else array("q")
        self._count = len(self._points) + sum(self._ends) - sum(self._starts) + \
            len(self._starts)

    @classmethod
    def of(cls, positions: Iterable[int]) -> Positions:
        """The set of ``positions``, in any order, repeats allowed."""
        builder = PositionsBuilder()
        for position in positions:
            builder.add(position)
        return builder.build()

    @classmethod
    def _from_iterable(cls, positions: Iterable[Any]) -> frozenset[Any]:
        return frozenset(positions)  # what Set's operators (&, |, -) build

    def __contains__(self, position: object) -> bool:
        if not isinstance(position, int):
            return False
        k = bisect_right(self._starts, position) - 1
        if k >= 0 and position <= self._ends[k]:
            return True
        j = bisect_right(self._points, position) - 1
        return j >= 0 and self._points[j] == position

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[int]:
        for first, last in self.ranges():
            yield from range(first, last + 1)

    def __repr__(self) -> str:
        return f"Positions({len(self)} positions in {len(self._starts)} ranges and " \
               f"{len(self._points)} points)"

    def ranges(self) -> Iterator[Interval]:
        """Every maximal run of positions, in order (a point is a run of one)."""
        return heapq.merge(zip(self._starts, self._ends, strict=True),
                           ((p, p) for p in self._points))

    def first_missing(self, first: int, last: int) -> int | None:
        """The first position from ``first`` to ``last`` not in the set, or None."""
        at = first
        while at <= last:
            k = bisect_right(self._starts, at) - 1
            if k >= 0 and at <= self._ends[k]:
                at = self._ends[k] + 1
                continue
            j = bisect_right(self._points, at) - 1
            if j >= 0 and self._points[j] == at:
                at += 1
                continue
            return at
        return None

    @property
    def nbytes(self) -> int:
        """What the positions take (the arrays' items, not their fixed headers)."""
        return sum(a.itemsize * len(a) for a in (self._starts, self._ends, self._points))


class PositionsBuilder:
    """Collects positions into ``Positions``. In ascending order (how a journal's reader
    writes them) each ``add`` extends the last run in place; a position below it is set aside
    and merged in by ``build``, so any order gives the same set."""

    def __init__(self) -> None:
        self._starts, self._ends, self._points = array("q"), array("q"), array("q")
        self._first: int | None = None  # the open run, not yet stored
        self._last = 0
        self._strays = array("q")

    def add(self, position: int) -> None:
        if self._first is None:
            self._first = self._last = position
        elif position == self._last + 1:
            self._last = position
        elif position > self._last:
            self._close()
            self._first = self._last = position
        elif position < self._first:
            self._strays.append(position)
        # else: inside the open run already

    def build(self) -> Positions:
        self._close()
        self._first = None
        if not self._strays:
            return Positions(self._starts, self._ends, self._points)
        held = Positions(self._starts, self._ends, self._points)
        strays = sorted(set(self._strays))  # only a journal not written in order has any
        out = PositionsBuilder()
        for first, last in heapq.merge(held.ranges(), ((p, p) for p in strays)):
            out.add_range(first, last)
        return out.build()

    def add_range(self, first: int, last: int) -> None:
        """``first``..``last`` given in ascending order of ``first``."""
        if self._first is not None and first <= self._last + 1:
            self._last = max(self._last, last)
            return
        self._close()
        self._first, self._last = first, last

    def _close(self) -> None:
        if self._first is None:
            return
        if self._first == self._last:
            self._points.append(self._first)
        else:
            self._starts.append(self._first)
            self._ends.append(self._last)
        self._first = None


class GrowingPositions(Set[int]):
    """A set of positions that grows while it is asked: what a consent gate rejected during a
    run, which blocks read again (a rebuild, another thread) must drop. Positions come in
    ascending order (the gate meets the list in order) and are appended to one array, 4 bytes
    each (8 past 2**32), asked by binary search: a million cost 4 MB, not the 66 MB a set of
    ints costs. One added below the last (not how a gate adds them) is held apart in a set."""

    __slots__ = ("_items", "_strays")

    def __init__(self) -> None:
        self._items = array("I")
        self._strays: set[int] = set()

    def add(self, position: int) -> None:
        items = self._items
        if not items or position > items[-1]:
            if items.typecode == "I" and not 0 <= position <= 0xFFFFFFFF:
                # a new array, not this one changed: a reader in another thread keeps its own
                items = self._items = array("q", items)
            items.append(position)
        elif position not in self:
            self._strays.add(position)

    def __contains__(self, position: object) -> bool:
        if not isinstance(position, int):
            return False
        items = self._items
        k = bisect_right(items, position) - 1
        return (k >= 0 and items[k] == position) or position in self._strays

    def __len__(self) -> int:
        return len(self._items) + len(self._strays)

    def __iter__(self) -> Iterator[int]:
        return heapq.merge(self._items, sorted(self._strays))

    @classmethod
    def _from_iterable(cls, positions: Iterable[Any]) -> frozenset[Any]:
        return frozenset(positions)

    @property
    def nbytes(self) -> int:
        """What the ordered positions take (the array's items; the strays are few)."""
        return self._items.itemsize * len(self._items)
