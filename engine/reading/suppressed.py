"""The suppression set (``--suppress FILE``): the numbers never to text, each with the file
and line it came from, held compactly so a million of them cost about 8 MB.

A North American number's key (its national number, ``firstseen.number_key``) is below 2**34,
and the line below 2**30, so each entry packs into one 64-bit slot ``key << 30 | line`` of a
sorted ``array('Q')``: membership is a binary search (``bisect``), and sorting by slot sorts
by key and then line, so a number listed twice keeps its first line. The lines of several
files are numbered on from one another (file 2's line 1 follows file 1's last), so one array
holds them all and the file is found again from the line. A number outside +1 (with
``--any-country``) is kept in a small dict beside the array.

Nothing here reads a file: engine/run/suppress.py reads them and builds the set with
``SuppressedBuilder``.

>>> b = SuppressedBuilder()
>>> b.start_file("opt-outs.csv")
>>> b.add("+14155550100", 12)
>>> _ = b.end_file()
>>> s = b.build()
>>> "+14155550100" in s, "+14155550101" in s
(True, False)
>>> s.describe("+14155550100")
'+14155550100 is on the suppression list opt-outs.csv (line 12); it is never sent'
"""

from __future__ import annotations

import json
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from hashlib import blake2b
from heapq import merge
from itertools import compress, pairwise, repeat
from operator import add, eq, lshift, or_, rshift
from typing import Any

from engine.core.rejections import quoted
from engine.errors import UsageError
from engine.reading.firstseen import KEY_LIMIT, LINE_BITS, LINE_LIMIT, number_key

_END = (1 << 64) - 1  # a sentinel past every slot: a search never runs off the array
_RUN = 1 << 16  # slots sorted at once while building
_BUCKET_SHIFT = 18
_BUCKETS = KEY_LIMIT >> _BUCKET_SHIFT
# keys packed in the array: not the sentinel's (2**34 - 1, a short number outside +1), which
# goes to the dict with the rest of those that do not fit
_PACKED_LIMIT = KEY_LIMIT - 1
_NEXT = (1).__add__
# the first line of a set written out (``encode``); a JSON header follows it on that line
KEPT_FORMAT = "a2p-suppressed/1"


@dataclass(frozen=True, slots=True)
class SuppressionSource:
    """One suppression file as read: its path as given, its lines' numbering base in the set,
    and what a journal records of it (``stat``: size and mtime, set by the reader of files)."""

    path: str
    base: int  # the set's line numbers of this file are base + 1 .. base + last line
    numbers: int = 0  # distinct numbers the file holds
    digest: str = ""  # blake2b of its sorted distinct keys (``keys_digest``)
    stat: dict[str, Any] = field(default_factory=dict)

    def as_header(self) -> dict[str, Any]:
        return {"path": self.path, **self.stat, "numbers": self.numbers,
                "digest": self.digest}


def _runs(start: int, end: int) -> list[tuple[int, int]]:
    """The (start, end) of each run of _RUN slots from ``start`` to ``end``."""
    return [(at, min(at + _RUN, end)) for at in range(start, end, _RUN)]


def _distinct(packed: array[int], runs: list[tuple[int, int]], digest: Any
              ) -> tuple[array[int], int]:
    """The slots of ``packed``'s sorted ``runs`` merged, each key once (its lowest slot: its
    first line), and how many; ``digest`` (a blake2b, or None) takes their keys in order.
    Merging runs keeps the memory of a build near the array's own: sorting a million slots
    at once would hold a million Python integers, some 40 MB."""
    out, keys, last = array("Q"), array("Q"), -1
    with memoryview(packed) as view:
        parts = [view[a:b] for a, b in runs]
        for slot in merge(*parts) if len(parts) > 1 else iter(parts[0] if parts else ()):
            key = slot >> LINE_BITS
            if key != last:
                out.append(slot)
                last = key
                if digest is not None:
                    keys.append(key)
                    if len(keys) >= _RUN:
                        digest.update(keys.tobytes())
                        del keys[:]
        for part in parts:
            part.release()
    if digest is not None:
        digest.update(keys.tobytes())
    return out, len(out)


class Suppressed:
    """The numbers never to text: ``number in suppressed`` for one E.164 number, ``hits`` for
    a block of them, ``describe`` for the rejection's sentence."""

    __slots__ = ("_bases", "_index", "_other", "_slots", "sources")

    def __init__(self, slots: array[int], other: dict[int, int],
                 sources: Sequence[SuppressionSource]) -> None:
        self._slots = slots  # sorted, distinct keys, ending in the _END sentinel
        self._other = other
        self.sources = tuple(sources)
        self._bases = [s.base for s in self.sources]
        # where each bucket of keys (key >> _BUCKET_SHIFT) starts in the slots, so a search
        # compares a few slots, not twenty: 256 KB whatever the set's size
        self._index = array("L", [bisect_left(slots, bucket << _BUCKET_SHIFT << LINE_BITS)
                                  for bucket in range(_BUCKETS + 1)])

    def __len__(self) -> int:
        return len(self._slots) - 1 + len(self._other)

    def nbytes(self) -> int:
        """The bytes the set's array holds (the dict of numbers outside +1 aside)."""
        return self._slots.itemsize * len(self._slots) + self._index.itemsize * len(self._index)

    def line_of(self, number: str) -> int | None:
        """The set's line number of ``number`` (E.164), or None when it is not suppressed."""
        key = number_key(number)
        if not 0 < key < _PACKED_LIMIT:
            return self._other.get(key)
        bucket = key >> _BUCKET_SHIFT
        slot = self._slots[bisect_left(self._slots, key << LINE_BITS, self._index[bucket],
                                       self._index[bucket + 1])]
        return slot & (LINE_LIMIT - 1) if slot >> LINE_BITS == key else None

    def __contains__(self, number: object) -> bool:
        return isinstance(number, str) and self.line_of(number) is not None

    def hits(self, numbers: list[str]) -> list[int]:
        """The indexes of the suppressed numbers of a block of E.164 numbers, in order. A
        block of +1 numbers is searched without a Python call per number."""
        if not numbers:
            return []
        n, joined = len(numbers), "".join(numbers)
        if len(joined) != 12 * n or joined[::12] != "+" * n or joined[1::12] != "1" * n \
                or not joined.replace("+", "").isdigit():
            return [i for i, number in enumerate(numbers) if number in self]
        keys = list(map(int, joined.replace("+1", " ").split()))  # "+1" starts each one alone
        slots, index = self._slots, self._index
        buckets = list(map(rshift, keys, repeat(_BUCKET_SHIFT)))
        at = map(bisect_left, repeat(slots), map(lshift, keys, repeat(LINE_BITS)),
                 map(index.__getitem__, buckets), map(index.__getitem__, map(_NEXT, buckets)))
        found = map(eq, map(rshift, map(slots.__getitem__, at), repeat(LINE_BITS)), keys)
        return list(compress(range(len(numbers)), found))

    def where(self, number: str) -> tuple[str, int] | None:
        """The file and line that suppress ``number``, if any."""
        line = self.line_of(number)
        if line is None:
            return None
        source = self.sources[bisect_right(self._bases, line - 1) - 1]
        return source.path, line - source.base

    def describe(self, number: str, shown: str | None = None) -> str:
        """Why ``number`` is not sent; ``shown`` is the value as the list wrote it."""
        found = self.where(number)
        assert found is not None, number
        path, line = found
        value = number if shown is None or shown == number else f"{quoted(shown)} ({number})"
        return (f"{value} is on the suppression list {path} (line {line}); it is never sent")

    def renamed(self, paths: Sequence[str]) -> Suppressed:
        """The set with its files named ``paths`` (as a run gave them, read again from where
        they are now): the descriptions read as they did."""
        self.sources = tuple(replace(source, path=path)
                             for source, path in zip(self.sources, paths, strict=True))
        return self

    def as_header(self) -> list[dict[str, Any]]:
        """What a journal records: each file's path, size, mtime, count and digest."""
        return [source.as_header() for source in self.sources]

    def encode(self) -> list[bytes]:
        """The set as bytes to keep beside a journal (``decode`` reads it back): a JSON line
        (its sources, sizes and checksum), then its sorted slots and the numbers outside +1,
        each a little-endian 64-bit word: some 8 bytes a number."""
        arrays = [self._slots, array("Q", self._other), array("Q", self._other.values())]
        payload = [_little(a) for a in arrays]
        check = blake2b(digest_size=16)
        for part in payload:
            check.update(part)
        head = {"format": KEPT_FORMAT, "slots": len(arrays[0]), "other": len(arrays[1]),
                "checksum": check.hexdigest(),
                "sources": [{"base": s.base, **s.as_header()} for s in self.sources]}
        return [json.dumps(head).encode() + b"\n", *payload]

    @classmethod
    def decode(cls, data: bytes) -> Suppressed:
        """A set ``encode`` wrote; ValueError when ``data`` is not one, whole and intact."""
        end = data.find(b"\n")
        try:
            head = json.loads(data[:end]) if end > 0 else None
        except ValueError:
            head = None
        if not isinstance(head, dict) or head.get("format") != KEPT_FORMAT:
            raise ValueError("not a kept suppression set")
        counts = [int(head["slots"]), int(head["other"]), int(head["other"])]
        body = memoryview(data)[end + 1:]
        if len(body) != 8 * sum(counts) or \
                blake2b(body, digest_size=16).hexdigest() != head["checksum"]:
            raise ValueError("a kept suppression set cut short or damaged")
        arrays, at = [], 0
        for count in counts:
            arrays.append(_native(body[at:at + 8 * count]))
            at += 8 * count
        slots, keys, lines = arrays
        if not slots or slots[-1] != _END:
            raise ValueError("a kept suppression set without its end")
        sources = [SuppressionSource(
            s["path"], int(s["base"]), int(s["numbers"]), str(s["digest"]),
            {k: v for k, v in s.items() if k not in ("path", "base", "numbers", "digest")})
            for s in head["sources"]]
        return cls(slots, dict(zip(keys, lines, strict=True)), sources)


def _little(words: array[int]) -> bytes:
    """An array('Q')'s bytes, little-endian whatever the machine."""
    if sys.byteorder == "little":
        return words.tobytes()
    swapped = array("Q", words)
    swapped.byteswap()
    return swapped.tobytes()


def _native(data: memoryview) -> array[int]:
    words = array("Q")
    words.frombytes(data)
    if sys.byteorder != "little":
        words.byteswap()
    return words


class SuppressedBuilder:
    """Numbers in, file by file and line by line; ``build`` sorts them once."""

    def __init__(self) -> None:
        self._packed = array("Q")
        self._other: dict[int, int] = {}
        self._sources: list[SuppressionSource] = []
        self._base = 0  # the set's line number of the current file's line 0
        self._last = 0  # the current file's last line added
        self._first = 0  # where the current file's entries start in _packed
        self._starts: list[int] = []  # where each file's sorted run starts in _packed

    def start_file(self, path: str) -> None:
        """Begin a file: its lines are numbered on after the previous file's."""
        self._base += self._last
        self._last = 0
        self._first = len(self._packed)
        self._file_other: dict[int, int] = {}
        self._sources.append(SuppressionSource(path, self._base))

    def add(self, number: str, line: int) -> None:
        """One E.164 number read at ``line`` of the current file."""
        self.add_key(number_key(number), line)

    def add_block(self, numbers: list[str], lines: Sequence[int]) -> None:
        """A block of E.164 numbers and their lines; a block of +1 numbers is packed without
        a Python call per number."""
        n, joined = len(numbers), "".join(numbers)
        if not n or len(joined) != 12 * n or joined[::12] != "+" * n \
                or joined[1::12] != "1" * n or not joined.replace("+", "").isdigit() \
                or self._base + max(lines) >= LINE_LIMIT - 1:
            for number, line in zip(numbers, lines, strict=True):
                self.add(number, line)
            return
        keys = map(int, joined.replace("+1", " ").split())
        self._packed.extend(map(or_, map(lshift, keys, repeat(LINE_BITS)),
                                map(add, lines, repeat(self._base))))
        self._last = max(self._last, max(lines))

    def add_key(self, key: int, line: int) -> None:
        whole = self._base + line
        if whole >= LINE_LIMIT - 1:
            raise UsageError(f"the suppression lists hold more than {LINE_LIMIT - 2:,} lines "
                             "together; merge them into fewer numbers, one a line.")
        self._last = max(self._last, line)
        if 0 < key < _PACKED_LIMIT:
            self._packed.append(key << LINE_BITS | whole)
        else:
            self._file_other.setdefault(key, whole)
            self._other.setdefault(key, whole)

    def end_file(self, stat: dict[str, Any] | None = None) -> SuppressionSource:
        """End the current file (``stat``: its size and mtime, as a journal records them):
        its slots sorted with each number once (a run for the final merge), counted and
        digested."""
        packed, first = self._packed, self._first
        for at in range(first, len(packed), _RUN):  # sorted a run at a time: see _distinct
            end = min(at + _RUN, len(packed))
            with memoryview(packed) as view:
                run = sorted(view[at:end])
            packed[at:end] = array("Q", run)
        digest = blake2b(digest_size=16)
        distinct, count = _distinct(packed, _runs(first, len(packed)), digest)
        del packed[first:]
        packed.extend(distinct)
        del distinct
        others = array("Q", sorted(k & _END for k in self._file_other))
        digest.update(others.tobytes())
        self._starts.append(first)
        source = self._sources[-1]
        self._sources[-1] = done = SuppressionSource(
            source.path, source.base, count + len(others), digest.hexdigest(), stat or {})
        return done

    def build(self) -> Suppressed:
        """The set: every file's slots (each a sorted run) merged, each number at its first
        line alone."""
        slots = self._packed
        self._packed = array("Q")
        if len(self._sources) > 1:
            bounds = [*self._starts, len(slots)]
            slots, _ = _distinct(slots, list(pairwise(bounds)), None)
        slots.append(_END)
        return Suppressed(slots, self._other, self._sources)
