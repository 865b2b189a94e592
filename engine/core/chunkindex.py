"""The map from a chunk's 1-based message index to original input positions and lines.

Stored as runs (a new run wherever the position or line stops advancing by one), in typed
arrays: two million contiguous messages take three integers, not two million.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from itertools import compress, islice, repeat
from operator import add, ne, or_, sub

NO_LINE = -1


class PositionIndex:
    """With ``ends_only`` (a dry run's chunks, which only say how many messages they hold and
    where they start and end), only ``count``, ``first`` and ``last`` are kept: no runs, no
    ``locate``."""

    __slots__ = ("_ends_only", "_last", "_lines", "_positions", "_starts", "count")

    def __init__(self, ends_only: bool = False) -> None:
        self._starts: array[int] = array("q")
        self._positions: array[int] = array("q")
        self._lines: array[int] = array("q")
        self.count = 0
        self._ends_only = ends_only
        self._last = -1

    def extend(self, positions: Sequence[int], lines: Sequence[int] | None) -> None:
        """Append messages with these (strictly increasing) positions and lines, in order."""
        if not positions:
            return
        if self._ends_only:
            if not self.count:
                self._positions.append(positions[0])
            self._last = positions[-1]
            self.count += len(positions)
            return
        if _contiguous(positions, lines):
            self._add(positions[0], lines[0] if lines is not None else NO_LINE, len(positions))
            return
        # The first message may continue the last run; inside the rest, a run starts wherever
        # the position (or line) does not advance by one, found by C-level maps rather than a
        # call per message (a list with many bad records has a run every few messages).
        self._add(positions[0], lines[0] if lines is not None else NO_LINE, 1)
        breaks = _breaks(positions)
        if lines is not None:
            breaks = map(or_, breaks, _breaks(lines))
        starts = list(compress(range(1, len(positions)), breaks))
        self._starts.extend(map(add, starts, repeat(self.count - 1)))
        self._positions.extend(map(positions.__getitem__, starts))
        self._lines.extend(repeat(NO_LINE, len(starts)) if lines is None else
                           map(lines.__getitem__, starts))
        self.count += len(positions) - 1

    def _add(self, position: int, line: int, n: int) -> None:
        if not self._continues(position, line):
            self._starts.append(self.count)
            self._positions.append(position)
            self._lines.append(line)
        self.count += n

    def _continues(self, position: int, line: int) -> bool:
        if not self._starts:
            return False
        offset = self.count - self._starts[-1]
        if self._positions[-1] + offset != position:
            return False
        last_line = self._lines[-1]
        if last_line == NO_LINE or line == NO_LINE:
            return last_line == line
        return last_line + offset == line

    def locate(self, index: int) -> tuple[int, int | None]:
        """(0-based input position, line or None) of the 1-based message ``index``."""
        if not 1 <= index <= self.count:
            raise IndexError(f"message index {index} outside 1..{self.count}")
        self._need_runs()
        i = index - 1
        k = bisect_right(self._starts, i) - 1
        offset = i - self._starts[k]
        line = self._lines[k]
        return self._positions[k] + offset, None if line == NO_LINE else line + offset

    def _need_runs(self) -> None:
        if self._ends_only:
            raise TypeError("a dry run's index keeps only its first and last positions")

    @property
    def first(self) -> int:
        return self._positions[0] if self.count else -1

    @property
    def last(self) -> int:
        if self._ends_only:
            return self._last
        return self.locate(self.count)[0] if self.count else -1

    @property
    def runs(self) -> int:
        self._need_runs()
        return len(self._starts)

    def position_runs(self) -> array[int]:
        """(first position, count) of each maximal run of consecutive positions, flat: the
        same for the same positions however they were added (lines left aside)."""
        self._need_runs()
        out: array[int] = array("q")
        ends = [*self._starts[1:], self.count]
        for k, start in enumerate(self._starts):
            position, n = self._positions[k], ends[k] - start
            if out and out[-2] + out[-1] == position:
                out[-1] += n
            else:
                out.extend((position, n))
        return out

    def holes(self) -> list[tuple[int, int]]:
        """The position ranges between ``first`` and ``last`` that hold none of its messages
        (records rejected locally, or held by another chunk when this one was cut)."""
        self._need_runs()
        out = []
        for k in range(1, len(self._starts)):
            end = self._positions[k - 1] + self._starts[k] - self._starts[k - 1]  # after run k-1
            if self._positions[k] > end:
                out.append((end, self._positions[k] - 1))
        return out


def _breaks(values: Sequence[int]) -> Iterator[bool]:
    """For each value after the first: True where it is not the one before plus one."""
    return map(ne, map(sub, islice(values, 1, None), values), repeat(1))


def _contiguous(positions: Sequence[int], lines: Sequence[int] | None) -> bool:
    n = len(positions) - 1
    if positions[-1] - positions[0] != n:
        return False
    return lines is None or lines[-1] - lines[0] == n
