"""What ``--dedupe`` remembers of each distinct recipient: the first line (or item position)
its number was read on, so a repeat is refused naming it, in about 14 bytes a recipient
(docs/benchmarks.md, "De-duplication").

A North American national number is below 10**10 < 2**34 and a line below 2**30 in any list
there is, so both pack into one 64-bit slot of an ``array('Q')`` hash table (open addressing,
linear probing). The table is split into shards that each double on their own, from staggered
starting sizes, so growth never copies the whole table at once and the table as a whole is
never all freshly doubled: a shard's load runs from 0.4 to 0.8, the table's stays near 0.55.
A key or line that does not fit (a number outside +1, a line past 2**30 - 2) goes to a plain
dict beside it.

>>> seen = FirstLines()
>>> seen.first(4155550100, 7) is None, seen.first(4155550100, 9)
(True, 7)
"""

from __future__ import annotations

from array import array
from hashlib import blake2b
from typing import TypeVar

NANP_KEYS = 10**10  # a North American national number has 10 digits
KEY_BITS = 34  # 10**10 < 2**34
LINE_BITS = 30
KEY_LIMIT = 1 << KEY_BITS
LINE_LIMIT = 1 << LINE_BITS
SHARD_BITS = 8
SHARDS = 1 << SHARD_BITS

BIG_LINE = LINE_LIMIT - 1  # a slot's marker: the line is in a dict, not in the slot
_SHARD_MASK = SHARDS - 1
# Fibonacci hashing: (key * _MIX) >> KEY_BITS keeps the product's well-mixed high 64 bits, so
# sequential or patterned numbers spread evenly over the shards and their slots.
_MIX = 0x9E3779B97F4A7C15
_FIRST_SLOTS = 64
_K = TypeVar("_K")


def _start_size(shard: int) -> int:
    """Staggered first sizes, 64 x 2**(shard / SHARDS): shards double at different counts."""
    return int(_FIRST_SLOTS * 2 ** (shard / SHARDS))


def _place(table: array[int], slot: int, size: int) -> int:
    """The free index of ``table`` (``size`` slots) where a packed slot goes when regrown."""
    index = (((slot >> LINE_BITS) * _MIX) >> (KEY_BITS + SHARD_BITS)) % size
    while table[index]:
        index = index + 1 if index + 1 < size else 0
    return index


def _room(size: int) -> int:
    """How many keys a shard of ``size`` slots holds before it grows: a load past 0.8."""
    return size * 4 // 5 + 1


class _Table:
    """The sharded open-addressing table of packed (key, line) slots, with an optional
    parallel array of 64-bit tags (the text digests of ``--dedupe message``). A line too
    large to pack is kept in a dict and its slot holds the marker ``BIG_LINE``."""

    __slots__ = ("_big", "_room", "_shards", "_tags")

    def __init__(self, tagged: bool) -> None:
        sizes = [_start_size(s) for s in range(SHARDS)]
        self._shards = [array("Q", [0]) * size for size in sizes]
        self._tags = [array("Q", [0]) * size for size in sizes] if tagged else None
        self._room = [_room(size) for size in sizes]  # keys a shard takes before it grows
        self._big: dict[int, int] = {}

    def __len__(self) -> int:
        return sum(_room(len(slots)) - room
                   for slots, room in zip(self._shards, self._room, strict=True))

    def locate(self, key: int) -> tuple[int, int, int]:
        """(shard, index, slot) of ``key``: its packed slot, or the empty one (0) it would
        take. ``key`` is in 1..KEY_LIMIT - 1, so no packed slot is 0."""
        mixed = (key * _MIX) >> KEY_BITS
        shard = mixed & _SHARD_MASK
        table = self._shards[shard]
        size = len(table)
        index = (mixed >> SHARD_BITS) % size
        while slot := table[index]:
            if slot >> LINE_BITS == key:
                break
            index += 1
            if index == size:
                index = 0
        return shard, index, slot

    def line(self, slot: int) -> int:
        """The line a found slot holds."""
        line = slot & BIG_LINE
        return self._big[slot >> LINE_BITS] if line == BIG_LINE else line

    def put(self, shard: int, index: int, key: int, line: int, tag: int = 0) -> None:
        """Fill the empty slot ``locate`` found for ``key``."""
        if line >= BIG_LINE:
            self._big[key] = line
            line = BIG_LINE
        self._shards[shard][index] = key << LINE_BITS | line
        if self._tags is not None:
            self._tags[shard][index] = tag
        self._room[shard] -= 1
        if not self._room[shard]:
            self._grow(shard)

    def tag(self, shard: int, index: int) -> int:
        assert self._tags is not None
        return self._tags[shard][index]

    def _grow(self, shard: int) -> None:
        """Double one shard: the only copy made is of 1/SHARDS of the table."""
        old = self._shards[shard]
        size = 2 * len(old)
        table = array("Q", [0]) * size
        if self._tags is None:
            shift = KEY_BITS + SHARD_BITS
            for slot in filter(None, old):  # _place, inlined: about half an insert's time
                index = (((slot >> LINE_BITS) * _MIX) >> shift) % size
                while table[index]:
                    index += 1
                    if index == size:
                        index = 0
                table[index] = slot
        else:
            old_tags, tags = self._tags[shard], array("Q", [0]) * size
            for at, slot in enumerate(old):
                if slot:
                    index = _place(table, slot, size)
                    table[index] = slot
                    tags[index] = old_tags[at]
            self._tags[shard] = tags
        self._shards[shard] = table
        self._room[shard] = _room(size) - _room(len(old))


class FirstLines:
    """Each key's first line: ``first(key, line)`` is None the first time a key is given and
    the line it was first given with afterwards. Keys and lines are non-negative integers."""

    __slots__ = ("_other", "_table")

    def __init__(self) -> None:
        self._table = _Table(tagged=False)
        self._other: dict[int, int] = {}  # keys too large (or 0) to pack

    def __len__(self) -> int:
        return len(self._table) + len(self._other)

    def first(self, key: int, line: int) -> int | None:
        """The line ``key`` was first given with, or None (and ``line`` kept) if it is new."""
        if not 0 < key < KEY_LIMIT:
            return _kept(self._other, key, line)
        # _Table.locate, inlined: this runs once per record of a --dedupe read
        table = self._table
        mixed = (key * _MIX) >> KEY_BITS
        shard = mixed & _SHARD_MASK
        slots = table._shards[shard]
        size = len(slots)
        index = (mixed >> SHARD_BITS) % size
        while slot := slots[index]:
            if slot >> LINE_BITS == key:
                return table.line(slot)
            index += 1
            if index == size:
                index = 0
        if line >= BIG_LINE:
            table.put(shard, index, key, line)
            return None
        slots[index] = key << LINE_BITS | line  # _Table.put, inlined too
        room = table._room
        room[shard] -= 1
        if not room[shard]:
            table._grow(shard)
        return None


def number_key(number: str) -> int:
    """An E.164 number as a key: a North American one by its national number (below 10**10,
    so it packs), any other as 10**10 plus its digits (E.164 has no leading zero, so no two
    numbers share a key).

    >>> number_key("+14155550100"), number_key("+442079460958")
    (4155550100, 452079460958)
    """
    if len(number) == 12 and number.startswith("+1"):
        return int(number[2:])
    return NANP_KEYS + int(number[1:])


def text_digest(text: str | None) -> int:
    """A 64-bit digest of a text (None: the batch text), the same in every process, so a
    resume or 'a2p outcomes' decides exactly as the run did."""
    data = b"" if text is None else text.encode("utf-8", "surrogatepass")
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "little")


class FirstMessages:
    """Each (key, text)'s first line, ``--dedupe message``: the key is matched exactly and the
    text by its 64-bit digest. The first text of a key sits beside it in the table; the other
    texts of a key seen with several live in a dict."""

    __slots__ = ("_more", "_table")

    def __init__(self) -> None:
        self._table = _Table(tagged=True)
        # a key's second and later texts, and keys too large (or 0) to pack
        self._more: dict[tuple[int, int], int] = {}

    def __len__(self) -> int:
        return len(self._table) + len(self._more)

    def first(self, key: int, digest: int, line: int) -> int | None:
        """The line (key, text) was first given with, or None (and ``line`` kept) if new."""
        if not 0 < key < KEY_LIMIT:
            return _kept(self._more, (key, digest), line)
        shard, index, slot = self._table.locate(key)
        if not slot:
            self._table.put(shard, index, key, line, digest)
            return None
        if self._table.tag(shard, index) == digest:
            return self._table.line(slot)
        return _kept(self._more, (key, digest), line)


def _kept(found: dict[_K, int], key: _K, line: int) -> int | None:
    """``found``'s line for ``key``, or None after keeping ``line`` for it."""
    size = len(found)
    earlier = found.setdefault(key, line)
    return None if len(found) > size else earlier
