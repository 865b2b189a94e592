"""A journal's server rejections, not held: counted when the journal is folded, streamed from
its file again in position order when a resume or ``a2p outcomes`` needs them.

A chunk's server rejections ride on its state entries (``rejected``: the answer's, mapped to
input positions, or the ones an adopted batch's store gave back); the last state entry of a
chunk that has the key says them all. For a list the server rejects a third of, at a few
million rows that is hundreds of megabytes of objects if folded into memory. So the first
pass (``read_journal``) keeps, per chunk, where that entry is and how many it holds
(``ServerRun``: a few integers a chunk, whatever it holds), and ``rejections`` reads them
again: each chunk's from its line (a long one in pieces, journalscan), the chunks merged by
position. Chunks' ranges seldom overlap (a chunk a resume cut around others' ranges does), so
a chunk's line is opened only once the merge reaches its first position: few are open at once.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Generator, Iterable
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

from engine.core.rejections import SERVER, Rejection, rejection_of
from engine.errors import JournalError
from engine.run.journalscan import damaged, lines


@dataclass(frozen=True, slots=True)
class ServerRun:
    """Chunk ``chunk``'s server rejections: the ``count`` items of the ``rejected`` of the
    state entry on line ``number`` (at byte ``offset``), from position ``first`` to
    ``last``; ``ascending``: in strictly rising positions (as a2p writes them)."""

    chunk: int
    offset: int
    number: int
    count: int
    first: int
    last: int
    ascending: bool = True


def scan(chunk: int, offset: int, number: int, items: Iterable[Any], where: str
         ) -> ServerRun | None:
    """One state entry's ``rejected``, counted and checked, not kept (None: it holds none)."""
    held, first, last, ascending = 0, 0, -1, True
    for item in items:
        if not isinstance(item, dict) or type(item.get("index")) is not int:
            raise damaged(where, number)
        index = item["index"]
        if held == 0:
            first = last = index
        else:
            ascending = ascending and index > last
            first, last = min(first, index), max(last, index)
        held += 1
    return ServerRun(chunk, offset, number, held, first, last, ascending) if held else None


def rejections(path: Path, end: int, runs: Iterable[ServerRun],
               chunks: Collection[int] | None = None) -> Generator[Rejection, None, None]:
    """The server rejections of ``runs`` (of the ``chunks`` given; None: all), read again from
    the journal at ``path`` (its first ``end`` bytes) in position order."""
    order = sorted((r for r in runs if chunks is None or r.chunk in chunks),
                   key=lambda r: (r.first, r.chunk))
    heap: list[tuple[int, int, Rejection, Generator[Rejection, None, None], int]] = []
    ranks = count()
    k = 0
    try:
        while k < len(order) or heap:
            # open the runs whose first position the merge has reached
            while k < len(order) and (not heap or order[k].first <= heap[0][0]):
                items = _run(path, end, order[k])
                head = next(items, None)
                if head is not None:
                    heapq.heappush(heap, (head.index, next(ranks), head, items,
                                          order[k].last))
                k += 1
            if len(heap) == 1 and (k == len(order) or order[k].first > heap[0][4]):
                # alone up to its last position (chunks seldom overlap): no merge needed
                _, _, rejection, items, _ = heap.pop()
                yield rejection
                yield from items
                continue
            _, rank, rejection, items, last = heap[0]
            yield rejection
            following = next(items, None)
            if following is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (following.index, rank, following, items, last))
    finally:
        for _, _, _, items, _ in heap:  # their files, when the caller stopped early
            items.close()


def _run(path: Path, end: int, run: ServerRun) -> Generator[Rejection, None, None]:
    """One chunk's server rejections by position (sorted here when not written so)."""
    made = _read(path, end, run)
    return made if run.ascending else _sorted(made)


def _sorted(made: Iterable[Rejection]) -> Generator[Rejection, None, None]:
    yield from sorted(made, key=lambda r: r.index)  # one chunk's at most: a2p sorts them


def _read(path: Path, end: int, run: ServerRun) -> Generator[Rejection, None, None]:
    where = str(path)
    with path.open("rb") as handle:
        handle.seek(run.offset)
        for _, _, entry in lines(handle, end, where, run.number):
            if not isinstance(entry, dict) or entry.get("type") != "state" or \
                    entry.get("chunk") != run.chunk:
                raise _moved(where, run)
            held = 0
            for item in entry.get("rejected") or ():
                try:
                    yield rejection_of(item, SERVER)
                except (KeyError, TypeError):
                    raise damaged(where, run.number) from None
                held += 1
            if held != run.count:
                raise _moved(where, run)
            return
    raise _moved(where, run)


def _moved(where: str, run: ServerRun) -> JournalError:
    return JournalError(f"{where}, line {run.number}: the journal changed while it was read "
                        f"(chunk {run.chunk}'s server rejections are not where they were). "
                        "Run the command again once no other process writes the journal.")
