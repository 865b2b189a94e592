"""The map from a chunk's 1-based message index to original input positions and lines.

Stored as runs (a new run wherever the position or line stops advancing by one): two million
contiguous messages take one run, not two million. A list with many bad records has a run
every few messages (a 50 MB chunk of random ``+1`` numbers: about 650,000), so each run after
the first is kept as three small varints (how long the run before it was, how many positions
it skipped, how far its line strays from where the positions put it): about three bytes a
run, where three 64-bit integers took 24. Every ``_EVERY`` runs a checkpoint keeps the run's
values whole, so ``locate`` decodes at most that many runs.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from itertools import compress, islice, repeat
from operator import add, ne, or_, sub

NO_LINE = -1
_EVERY = 64   # runs between checkpoints: what one locate decodes at most
_PIECE = 4096  # (position, count) pairs a position_run_pieces array holds


def _zigzag(value: int) -> int:
    return value << 1 if value >= 0 else ((-value) << 1) - 1


def _unzigzag(value: int) -> int:
    return value >> 1 if not value & 1 else -((value + 1) >> 1)


def _put(out: bytearray, value: int) -> None:
    """``value`` (>= 0) as a little-endian base-128 varint."""
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _get(data: bytearray, at: int) -> tuple[int, int]:
    """(value, offset after it) of the varint at ``at``."""
    byte = data[at]
    if byte < 0x80:
        return byte, at + 1
    value, shift = byte & 0x7F, 7
    while True:
        at += 1
        byte = data[at]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at + 1
        shift += 7


class PositionIndex:
    """With ``ends_only`` (a dry run's chunks, which only say how many messages they hold and
    where they start and end), only ``count``, ``first`` and ``last`` are kept: no runs, no
    ``locate``.

    Lines are kept as ``line + 1`` (0: no line) so a run's line is predicted from the run
    before (it advances as the positions do, or stays "no line") and only the difference is
    stored: 0 for a CSV of one record a line."""

    __slots__ = ("_cp_at", "_cp_line", "_cp_position", "_cp_start", "_cursor", "_data",
                 "_ends_only", "_first", "_last", "_line", "_position", "_runs", "_start",
                 "count")

    def __init__(self, ends_only: bool = False) -> None:
        self._data = bytearray()
        # checkpoints: offset in _data after the run's varints, and the run's values whole
        self._cp_at: array[int] = array("q")
        self._cp_start: array[int] = array("q")
        self._cp_position: array[int] = array("q")
        self._cp_line: array[int] = array("q")
        self._runs = 0
        # the last run's values (line + 1)
        self._start = self._position = self._line = 0
        self.count = 0
        self._ends_only = ends_only
        # (start, position, line + 1, offset of the next run's varints) of the run the last
        # locate found: runs are only ever appended, so it stays true
        self._cursor: tuple[int, int, int, int] | None = None
        self._first = -1
        self._last = -1

    def extend(self, positions: Sequence[int], lines: Sequence[int] | None) -> None:
        """Append messages with these (strictly increasing) positions and lines, in order."""
        if not positions:
            return
        if self._ends_only:
            if not self.count:
                self._first = positions[0]
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
        base = self.count - 1
        ks = list(compress(range(1, len(positions)), breaks))
        if not self._new_runs(base, ks, positions, lines):
            for k in ks:
                self._new_run(base + k, positions[k], NO_LINE if lines is None else lines[k])
        self.count += len(positions) - 1

    def _new_runs(self, base: int, ks: list[int], positions: Sequence[int],
                  lines: Sequence[int] | None) -> bool:
        """The runs starting at messages ``ks`` (of this block, after ``base``) appended in
        one go, C-level maps over the block rather than a call a run, when every varint is a
        single byte (short runs, small gaps, lines that follow the positions: a list of bad
        rows). False, with nothing appended, otherwise."""
        if not ks or not self._runs:
            return False
        starts = list(map(add, ks, repeat(base)))
        moved = list(map(positions.__getitem__, ks))
        lengths = list(map(sub, starts, [self._start, *starts[:-1]]))
        steps = list(map(sub, moved, [self._position, *moved[:-1]]))
        skipped = list(map(sub, steps, lengths))
        if lines is None:
            if self._line:
                return False
            stored, strays = [0] * len(ks), bytes(len(ks))
        else:
            if not self._line:
                return False
            stored = [lines[k] + 1 for k in ks]
            strays_ = list(map(sub, map(sub, stored, [self._line, *stored[:-1]]), steps))
            if min(strays_) < 0 or max(strays_) >= 0x40:
                return False
            strays = bytes(map(add, strays_, strays_))  # zigzag of values >= 0
        if max(lengths) > 0x80 or max(skipped) >= 0x80 or min(skipped) < 0:
            return False
        data, at, n = self._data, len(self._data), len(ks)
        data.extend(bytes(3 * n))
        data[at::3] = bytes(map(sub, lengths, repeat(1)))
        data[at + 1::3] = bytes(skipped)
        data[at + 2::3] = strays
        for j in range(-self._runs % _EVERY, n, _EVERY):  # the runs that are checkpoints
            self._cp_at.append(at + 3 * (j + 1))
            self._cp_start.append(starts[j])
            self._cp_position.append(moved[j])
            self._cp_line.append(stored[j])
        self._runs += n
        self._start, self._position, self._line = starts[-1], moved[-1], stored[-1]
        return True

    def _add(self, position: int, line: int, n: int) -> None:
        if not self._continues(position, line):
            self._new_run(self.count, position, line)
        self.count += n

    def _continues(self, position: int, line: int) -> bool:
        if not self._runs:
            return False
        offset = self.count - self._start
        if self._position + offset != position:
            return False
        if not self._line or line == NO_LINE:
            return self._line == line + 1
        return self._line + offset == line + 1

    def _new_run(self, start: int, position: int, line: int) -> None:
        stored = line + 1
        if self._runs:
            length = start - self._start
            data = self._data
            _put(data, length - 1)
            _put(data, position - self._position - length)
            _put(data, _zigzag(stored - self._predict(position)))
        else:
            self._first = position
        if not self._runs % _EVERY:
            self._cp_at.append(len(self._data))
            self._cp_start.append(start)
            self._cp_position.append(position)
            self._cp_line.append(stored)
        self._runs += 1
        self._start, self._position, self._line = start, position, stored

    def _predict(self, position: int) -> int:
        """The next run's line + 1 if it moved as the positions did (0 stays no line)."""
        return self._line + position - self._position if self._line else 0

    def _walk(self, checkpoint: int) -> Iterator[tuple[int, int, int]]:
        """(start, position, line + 1) of every run from checkpoint ``checkpoint`` on."""
        start, position, line = (self._cp_start[checkpoint], self._cp_position[checkpoint],
                                 self._cp_line[checkpoint])
        at, data, end = self._cp_at[checkpoint], self._data, len(self._data)
        yield start, position, line
        while at < end:
            length, at = _get(data, at)
            skipped, at = _get(data, at)
            stray, at = _get(data, at)
            length += 1
            moved = position + length + skipped
            line = (line + moved - position if line else 0) + _unzigzag(stray)
            start, position = start + length, moved
            yield start, position, line

    def _runs_from(self, checkpoint: int = 0) -> Iterator[tuple[int, int, int, int]]:
        """(start, count, position, line + 1) of every run from a checkpoint on."""
        if not self._runs:
            return
        walk = self._walk(checkpoint)
        start, position, line = next(walk)
        for following in walk:
            yield start, following[0] - start, position, line
            start, position, line = following
        yield start, self.count - start, position, line

    def locate(self, index: int) -> tuple[int, int | None]:
        """(0-based input position, line or None) of the 1-based message ``index``. Indexes
        asked in increasing order (a batch answer's rejections, a split) go on from the run
        the last one found rather than from a checkpoint: one pass over the runs in all."""
        if not 1 <= index <= self.count:
            raise IndexError(f"message index {index} outside 1..{self.count}")
        self._need_runs()
        i = index - 1
        k = bisect_right(self._cp_start, i) - 1
        cursor = self._cursor
        if cursor is not None and self._cp_start[k] <= cursor[0] <= i:
            start, position, line, at = cursor
        else:
            start, position, line, at = (self._cp_start[k], self._cp_position[k],
                                         self._cp_line[k], self._cp_at[k])
        data, end = self._data, len(self._data)
        while at < end:  # the runs after this one, while the next starts at or before i
            length, after = _get(data, at)
            following = start + length + 1
            if following > i:
                break
            skipped, after = _get(data, after)
            stray, at = _get(data, after)
            moved = position + length + 1 + skipped
            line = (line + moved - position if line else 0) + _unzigzag(stray)
            start, position = following, moved
        self._cursor = (start, position, line, at)
        offset = i - start
        return position + offset, None if not line else line - 1 + offset

    def _need_runs(self) -> None:
        if self._ends_only:
            raise TypeError("a dry run's index keeps only its first and last positions")

    @property
    def first(self) -> int:
        return self._first if self.count else -1

    @property
    def last(self) -> int:
        if self._ends_only or not self.count:
            return self._last if self.count else -1
        return self._position + self.count - self._start - 1

    @property
    def runs(self) -> int:
        self._need_runs()
        return self._runs

    @property
    def nbytes(self) -> int:
        """What its runs take in memory (the encoded runs and the checkpoints)."""
        return len(self._data) + sum(a.itemsize * len(a) for a in
                                     (self._cp_at, self._cp_start, self._cp_position,
                                      self._cp_line))

    def position_run_pieces(self) -> Iterator[array[int]]:
        """(first position, count) of each maximal run of consecutive positions, flat, a few
        thousand pairs at a time: the same for the same positions however they were added
        (lines left aside), and never all of them at once."""
        self._need_runs()
        out: array[int] = array("q")
        for _, n, position, _ in self._runs_from():
            if out and out[-2] + out[-1] == position:
                out[-1] += n
                continue
            if len(out) >= 2 * _PIECE:
                # the last pair may still grow: it goes with the next piece
                yield out[:-2]
                out = out[-2:]
            out.extend((position, n))
        if out:
            yield out

    def position_runs(self) -> array[int]:
        """Every (first position, count) pair of ``position_run_pieces``, in one array."""
        out: array[int] = array("q")
        for piece in self.position_run_pieces():
            out.extend(piece)
        return out

    def split(self, count: int) -> tuple[PositionIndex, PositionIndex]:
        """Its first ``count`` messages and the rest, as two indexes (a chunk cut in two by a
        413): built a run at a time, never a message at a time."""
        self._need_runs()
        head, tail = PositionIndex(), PositionIndex()
        for start, n, position, line in self._runs_from():
            take = min(n, max(count - start, 0))  # of this run's messages, the head's
            for index, lo, hi in ((head, 0, take), (tail, take, n)):
                if hi > lo:
                    index.extend(range(position + lo, position + hi),
                                 range(line - 1 + lo, line - 1 + hi) if line else None)
        return head, tail

    def holes(self) -> list[tuple[int, int]]:
        """The position ranges between ``first`` and ``last`` that hold none of its messages
        (records rejected locally, or held by another chunk when this one was cut)."""
        self._need_runs()
        out = []
        end = None  # the position after the run before
        for _, n, position, _ in self._runs_from():
            if end is not None and position > end:
                out.append((end, position - 1))
            end = position + n
        return out


def _breaks(values: Sequence[int]) -> Iterator[bool]:
    """For each value after the first: True where it is not the one before plus one."""
    return map(ne, map(sub, islice(values, 1, None), values), repeat(1))


def _contiguous(positions: Sequence[int], lines: Sequence[int] | None) -> bool:
    n = len(positions) - 1
    if positions[-1] - positions[0] != n:
        return False
    return lines is None or lines[-1] - lines[0] == n
