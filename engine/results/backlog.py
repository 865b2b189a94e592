"""Where the rejections found on re-reading the input wait to be merged into input order.

The reader reports a rejection as it reads it, but hands over accepted records a block at a
time, and a stretch of the input with no accepted record (a list of nothing but bad rows: the
wrong column) yields no block until its end. The rejections read meanwhile wait here: in a
list while they are few, past ``LIMIT`` in an unnamed file beside the journal (a temporary
directory may live in memory), read back one at a time when merged.
"""

from __future__ import annotations

import tempfile
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

import orjson

from engine.core.rejections import Rejection, rejection_of

LIMIT = 10_000  # rejections held in memory before the rest go to a file


class Backlog:
    """A first-in first-out queue of rejections: ``append`` (the reader's sink), ``drain``
    (everything appended so far, in that order, once)."""

    def __init__(self, directory: Path | None = None, limit: int = LIMIT) -> None:
        self._directory = directory
        self._limit = limit
        self._held: list[Rejection] = []
        self._file: IO[bytes] | None = None
        self.spilled = 0  # rejections that went through a file, all told

    def append(self, rejection: Rejection) -> None:
        if self._file is None:
            self._held.append(rejection)
            if len(self._held) > self._limit:
                self._file = _spill_file(self._directory)
                self._write(self._held)
                self._held = []
        else:
            self._write([rejection])

    def _write(self, rejections: list[Rejection]) -> None:
        assert self._file is not None
        self._file.write(b"".join(orjson.dumps(r.as_json(), option=orjson.OPT_APPEND_NEWLINE)
                                  for r in rejections))
        self.spilled += len(rejections)

    def drain(self) -> Iterator[Rejection]:
        """What was appended, in order; the queue starts empty again."""
        held, spill = self._held, self._file
        self._held, self._file = [], None
        return iter(held) if spill is None else _read_back(spill)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class Drains(Protocol):
    """A queue the reader's rejections wait in (``Backlog``)."""

    def drain(self) -> Iterator[Rejection]: ...


def taken(rejected: list[Rejection] | Drains) -> Iterator[Rejection]:
    """What waits in ``rejected`` (a plain list, or a queue), taken out of it."""
    if isinstance(rejected, list):
        taken = rejected[:]
        rejected.clear()  # the reader appends to the same list: it must not grow
        return iter(taken)
    return rejected.drain()


class Pending:
    """Rejections taken from the queue and not merged yet: iterators read one after the
    other, the next rejection looked at before it is taken."""

    def __init__(self) -> None:
        self._sources: deque[Iterator[Rejection]] = deque()
        self._head: Rejection | None = None

    def add(self, source: Iterator[Rejection]) -> None:
        self._sources.append(source)

    def peek(self) -> Rejection | None:
        while self._head is None and self._sources:
            self._head = next(self._sources[0], None)
            if self._head is None:
                self._sources.popleft()
        return self._head

    def pop(self) -> Rejection:
        head = self.peek()
        assert head is not None
        self._head = None
        return head


def _spill_file(directory: Path | None) -> IO[bytes]:
    """An unnamed file (gone when closed) beside the journal, or in the temporary directory
    when the journal's is read-only (an export only reads the journal)."""
    try:
        return tempfile.TemporaryFile(dir=directory, prefix=".a2p-outcomes-")
    except OSError:
        return tempfile.TemporaryFile(prefix="a2p-outcomes-")


def _read_back(spill: IO[bytes]) -> Iterator[Rejection]:
    with spill:
        spill.seek(0)
        for line in spill:
            item = orjson.loads(line)
            yield rejection_of(item, item["source"])
