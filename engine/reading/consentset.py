"""RingCentral's opt-outs in scope, held as a million of them must be: some 13 bytes a record.

The numbers go in a Suppressed set (engine/reading/suppressed.py: one 64-bit slot each, the
record's place in its low bits); beside it, per record, the index of its sender among the few
distinct ones (one byte while there are at most 256 of them) and its time in epoch seconds
(four bytes). No OptOut object is kept: the rejection's sentence is written from these when a
recipient is suppressed. A time is shown to the second, in UTC, as ``2026-03-01T12:00:00Z``;
one without a zone (``2026-03-01`` or ``2026-03-01T12:00:00``, which ISO 8601 allows) is kept
the same way and shown without one (``2026-03-01T00:00:00``), a flag byte a record marking it
(only once such a time is met); one that is no ISO time at all (or before 1970) is kept as
RingCentral wrote it, in a dict beside the arrays.

>>> s = ConsentSet([OptOut("+14155550100", "+16505550100", "2026-03-01T12:00:00.250Z")])
>>> s.hits(["+14155550199", "+14155550100"])
[1]
>>> s.record("+14155550100")
OptOut(to='+14155550100', sender='+16505550100', modified='2026-03-01T12:00:00Z')
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from datetime import UTC, datetime

from engine.core import consent as rules
from engine.core.consent import OptOut
from engine.reading.suppressed import SuppressedBuilder

_SECONDS_LIMIT = 1 << 32  # what an array('I') holds: until 2106
_WIDER = {"B": "H", "H": "I"}  # a sender index outgrowing its type moves to the next


class ConsentSet:
    """The recipients the opt-outs in scope keep from the sender: ``hits`` for a block of
    E.164 numbers, ``describe`` for the rejection's sentence (sender and time). A number
    opted out several times is described by its first record read."""

    __slots__ = ("_naive", "_odd", "_senders", "_set", "_when", "_who")

    def __init__(self, opt_outs: Iterable[OptOut]) -> None:
        builder = SuppressedBuilder()
        builder.start_file("consent")
        self._senders: list[str] = []
        index: dict[str, int] = {}
        who, when = array("B"), array("I")
        self._odd: dict[int, str] = {}  # line -> a time kept as RingCentral wrote it
        self._naive: bytearray | None = None  # 1: the record's time had no zone
        for line, record in enumerate(opt_outs, 1):
            builder.add(record.to, line)  # the line: the record's place in the arrays
            k = index.get(record.sender)
            if k is None:
                k = index[record.sender] = len(self._senders)
                self._senders.append(record.sender)
                if k >> (8 * who.itemsize):
                    who = array(_WIDER[who.typecode], who)
            who.append(k)
            seconds, naive = _seconds(record.modified)
            if seconds is None:
                if record.modified:
                    self._odd[line] = record.modified
                seconds = 0
            when.append(seconds)
            if naive and self._naive is None:
                self._naive = bytearray(len(when) - 1)
            if self._naive is not None:
                self._naive.append(naive)
        builder.end_file()
        self._who, self._when = who, when
        self._set = builder.build()

    def __len__(self) -> int:
        return len(self._set)

    def nbytes(self) -> int:
        """The bytes its arrays hold (the few senders and odd times aside)."""
        return (self._set.nbytes() + self._who.itemsize * len(self._who)
                + self._when.itemsize * len(self._when) + len(self._naive or b""))

    def hits(self, numbers: list[str]) -> list[int]:
        return self._set.hits(numbers)

    def record(self, number: str) -> OptOut | None:
        """The opt-out that suppresses ``number`` (None: none does)."""
        line = self._set.line_of(number)
        if line is None:
            return None
        seconds = self._when[line - 1]
        naive = self._naive is not None and self._naive[line - 1] == 1
        modified = _iso(seconds, naive) if seconds else self._odd.get(line, "")
        return OptOut(number, self._senders[self._who[line - 1]], modified)

    def describe(self, number: str) -> str:
        record = self.record(number)
        assert record is not None, number
        return rules.describe(number, record)


def _seconds(modified: str) -> tuple[int | None, bool]:
    """``modified`` as epoch seconds (its fraction dropped; one without a zone read as UTC,
    and said so), or None when it is no ISO time, or falls outside what four bytes hold."""
    try:
        when = datetime.fromisoformat(modified)
    except ValueError:
        return None, False
    naive = when.tzinfo is None
    seconds = int(when.replace(tzinfo=UTC).timestamp() if naive else when.timestamp())
    return (seconds, naive) if 0 < seconds < _SECONDS_LIMIT else (None, False)


def _iso(seconds: int, naive: bool = False) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime(
        "%Y-%m-%dT%H:%M:%S" if naive else "%Y-%m-%dT%H:%M:%SZ")
