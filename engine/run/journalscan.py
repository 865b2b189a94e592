"""Reading a journal file in bounded memory, and streaming the local rejections it holds.

A ``local`` entry holds the rejections the reader found between two chunks: for a list of
mostly bad rows, a million rejections on one line of a hundred megabytes. Lines are read in
pieces of at most ``PIECE`` bytes, and a long local line is cut between its items at ``},{"``
(orjson writes no spaces, and a quote inside a JSON string is always escaped, so those bytes
never occur inside an item), so no line is held whole and no rejection is kept as an object:

- ``LocalScan`` (the first pass, ``read_journal``): the positions into a ``Positions`` (bytes
  per rejection: at most 8, about 16/n in runs of n) and where each ascending run begins;
- ``rejections`` (a second pass, for a resume and for ``a2p outcomes``): the rejections
  themselves, read again from the file one at a time, in position order.

A chunk's server rejections ride on a state entry, as its last key (``state_entry``): a long
state line is read the same way, its head parsed alone and its ``rejected`` items in pieces
(journalserver.py counts them, then streams them again).
"""

from __future__ import annotations

import heapq
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from engine.core.positions import Positions, PositionsBuilder
from engine.core.rejections import LOCAL, Rejection, rejection_of
from engine.errors import JournalError

PIECE = 1 << 20  # bytes read at a time; a line longer than this is read in pieces
LOCAL_TYPE = b'{"type":"local"'
LOCAL_PREFIX = b'{"type":"local","rejected":['  # how local_entry's lines begin (orjson)
STATE_TYPE = b'{"type":"state"'
REJECTED_KEY = b',"rejected":['  # a state entry's server rejections: its last key (state_entry)
BETWEEN_ITEMS = b'},{"'
MAX_RUNS = 64  # ascending runs merged from the file; more (never written so) are sorted in memory

# A line: its number, its byte offset, and its entry, or for a local entry its items (an
# iterator to read before asking for the next line). A long state entry's ``rejected`` is an
# iterator too, likewise read before the next line; keys after it are put in the entry once
# it is read to the end.
Line = tuple[int, int, dict[str, Any] | Iterator[Any]]


@dataclass(frozen=True, slots=True)
class Run:
    """Local rejections in strictly ascending positions, in file order: ``count`` items from
    the ``skip``-th item of the local entry on line ``number`` (at byte ``offset``) on,
    through the local entries after it."""

    offset: int
    number: int
    skip: int
    count: int


def damaged(where: str, number: int) -> JournalError:
    return JournalError(f"{where}, line {number}: not a journal entry. The journal is damaged; "
                        "it cannot be resumed safely. Check the batches on RingCentral before "
                        "sending again.")


def lines(handle: BinaryIO, end: int, where: str, number: int = 1, *,
          only_local: bool = False) -> Iterator[Line]:
    """Every line from the handle's position up to byte ``end`` (the end of a complete line).
    ``only_local``: other entries are passed over unparsed (when they begin as the journal
    writes them)."""
    at = handle.tell()
    while at < end:
        piece = handle.readline(min(PIECE, end - at))
        if not piece:
            raise damaged(where, number)  # the file shrank under us
        offset, at = at, at + len(piece)
        other = only_local and piece.startswith(b'{"type":"') and \
            not piece.startswith(LOCAL_TYPE)
        if not piece.endswith(b"\n"):
            if piece.startswith(LOCAL_PREFIX) and not other:
                items = _pieces(handle, piece[len(LOCAL_PREFIX):], end, where, number)
                yield number, offset, items
                for _ in items:  # what the caller left unread
                    pass
                at = handle.tell()
                number += 1
                continue
            state = _state_head(piece) if not other else None
            if state is not None:
                head, buf = state
                rejected = head["rejected"] = _tail(head, _pieces(handle, buf, end, where,
                                                                  number))
                yield number, offset, head
                for _ in rejected:  # what the caller left unread
                    pass
                at = handle.tell()
                number += 1
                continue
            piece = _rest(handle, piece, end, where, number, keep=not other)
            at = handle.tell()
        if not other:
            entry = _loads(piece, where, number)
            if entry.get("type") == "local":
                yield number, offset, iter(_checked(entry.get("rejected"), where, number))
            elif not only_local:
                yield number, offset, entry
        number += 1


def _state_head(piece: bytes) -> tuple[dict[str, Any], bytes] | None:
    """A long state line's entry without its ``rejected`` (what comes before it, which
    state_entry writes last), and what follows its ``[``; None: not such a line."""
    if not piece.startswith(STATE_TYPE):
        return None
    cut = piece.find(REJECTED_KEY)
    if cut < 0:
        return None
    try:  # a "rejected" key nested in an object before it leaves the head unbalanced
        head = orjson.loads(piece[:cut] + b"}")
    except orjson.JSONDecodeError:
        return None
    return (head, piece[cut + len(REJECTED_KEY):]) if isinstance(head, dict) else None


def _tail(head: dict[str, Any], items: Generator[Any, None, dict[str, Any]]
          ) -> Iterator[Any]:
    """``items``; at their end, any keys the entry has after ``rejected`` put in ``head``."""
    rest = yield from items
    if isinstance(rest, dict):
        head.update((k, v) for k, v in rest.items() if k not in ("type", "rejected"))


def _loads(data: bytes, where: str, number: int) -> dict[str, Any]:
    try:
        entry = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise damaged(where, number) from None
    if not isinstance(entry, dict):
        raise damaged(where, number)
    return entry


def _rest(handle: BinaryIO, piece: bytes, end: int, where: str, number: int, *, keep: bool
          ) -> bytes:
    """The rest of a long line that is not a local entry's (kept, or read past)."""
    held = [piece]
    while not held[-1].endswith(b"\n"):
        more = handle.readline(min(PIECE, end - handle.tell()))
        if not more:
            raise damaged(where, number)
        held = [*held, more] if keep else [more]
    return b"".join(held)


def _pieces(handle: BinaryIO, buf: bytes, end: int, where: str, number: int
            ) -> Generator[Any, None, dict[str, Any]]:
    """The items of a long local line (or of a long state line's ``rejected``), ``buf`` being
    what follows its ``[``: parsed a piece of whole items at a time. Returns what the line
    holds after them (a state line's later keys, if any)."""
    while True:
        if buf.endswith(b"\n"):
            entry = _loads(LOCAL_PREFIX + buf, where, number)
            yield from _checked(entry.get("rejected"), where, number)
            return entry
        cut = buf.rfind(BETWEEN_ITEMS)
        if cut >= 0:
            try:
                items = orjson.loads(b"[" + buf[:cut + 1] + b"]")
            except orjson.JSONDecodeError:
                raise damaged(where, number) from None
            yield from _checked(items, where, number)
            buf = buf[cut + 2:]
        more = handle.readline(min(PIECE, end - handle.tell()))
        if not more:
            raise damaged(where, number)
        buf += more


def _checked(items: Any, where: str, number: int) -> list[Any]:
    """A local entry's items, each with an integer position."""
    if not isinstance(items, list) or \
            not all(isinstance(i, dict) and type(i.get("index")) is int for i in items):
        raise damaged(where, number)
    return items


class LocalScan:
    """The first pass's view of the local entries: their positions, compactly, and the runs
    to stream them from later."""

    def __init__(self) -> None:
        self._positions = PositionsBuilder()
        self._runs: list[list[int]] = []  # [offset, number, skip, count]
        self._last: int | None = None

    def add(self, number: int, offset: int, items: Iterable[dict[str, Any]]) -> None:
        add = self._positions.add
        for k, item in enumerate(items):
            index = item["index"]
            add(index)
            if self._last is not None and index > self._last:
                self._runs[-1][3] += 1
            else:  # not above the last one: a new ascending run begins here
                self._runs.append([offset, number, k, 1])
            self._last = index

    def done(self) -> tuple[Positions, list[Run]]:
        return self._positions.build(), [Run(*run) for run in self._runs]


def rejections(path: Path, end: int, runs: list[Run]) -> Iterator[Rejection]:
    """The local rejections of the journal at ``path`` (its first ``end`` bytes), read again
    from the file in position order; of a position journaled twice, the later one."""
    if len(runs) == 1:
        yield from _run(path, end, runs[0])
    elif len(runs) <= MAX_RUNS:
        merged = heapq.merge(*(_run(path, end, run) for run in runs), key=lambda r: r.index)
        held: Rejection | None = None
        for rejection in merged:  # equal positions come in file order: keep the last
            if held is not None and held.index != rejection.index:
                yield held
            held = rejection
        if held is not None:
            yield held
    elif runs:
        every: dict[int, Rejection] = {}  # a journal in no order: sorted in memory
        for run in runs:
            for rejection in _run(path, end, run):
                every[rejection.index] = rejection
        for index in sorted(every):
            yield every[index]


def _run(path: Path, end: int, run: Run) -> Iterator[Rejection]:
    left, skip = run.count, run.skip
    with path.open("rb") as handle:
        handle.seek(run.offset)
        for _, _, items in lines(handle, end, str(path), run.number, only_local=True):
            assert not isinstance(items, dict)
            for item in items:
                if skip:
                    skip -= 1
                    continue
                yield rejection_of(item, LOCAL)
                left -= 1
                if not left:
                    return
