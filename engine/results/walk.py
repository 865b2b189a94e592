"""How ``a2p outcomes`` walks a run, in input order: the journal's chunks that hold records
now, as ``Span``s (split and superseded chunks left out, a resume's cuts as pieces), and the
input re-read as ``Record``s with the reader's local rejections merged back into their places,
and the journal's own rejections streamed beside them (``Journaled``).
What each record's row says is engine/results/rows.py's. No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from engine.core import lifecycle
from engine.core.holdings import Members
from engine.core.rejections import Rejection
from engine.reading import Block
from engine.results.backlog import Drains, Pending, taken
from engine.run.membership import members_by_chunk, standing
from engine.run.resume import retryable

__all__ = ["Journaled", "Record", "Span", "in_order", "pieces_of", "spans_of"]


class Record(NamedTuple):
    """An input record as re-read: position, line, number (or raw value), own text; a local
    rejection found on the re-read rides along; ``offset`` is its byte offset in a file."""

    position: int
    line: int | None
    to: str | None
    text: str | None
    rejection: Rejection | None = None
    offset: int | None = None
    zone: str | None = None  # its --tz-column cell, when the run read one


@dataclass(frozen=True, slots=True)
class Span:
    """One chunk of the run as the journal last described it."""

    number: int
    first: int
    last: int
    state: str
    batch_id: str | None
    size: int
    offset: int | None
    line: int | None
    retryable: bool  # for a chunk certainly not sent: would sending it again be sound?
    note: str
    pending: bool = False  # adopted; its message store was not complete when last read
    held: Members | None = None  # the positions it holds; None: its whole range

    @property
    def pieces(self) -> list[tuple[int, int]]:
        """Where its records lie: its range less its gaps (or its bitmap's runs)."""
        held = self.held if self.held is not None else Members(self.first, self.last)
        return list(held.runs())

    @property
    def accepted(self) -> bool:
        return self.batch_id is not None and self.state in (lifecycle.ACCEPTED,
                                                            lifecycle.COMPLETED)


def spans_of(chunks: Iterable[Mapping[str, Any]]) -> list[Span]:
    """The journal's chunks (its folded entries) that hold records now, as spans in input
    order: split chunks are left out (their halves cover them), and so are chunks a resume
    superseded (the chunks it cut again hold their records; journal.standing)."""
    spans = []
    every = list(chunks)
    members = members_by_chunk(every, lambda e: retryable(dict(e)))
    for entry in standing(every, lambda e: retryable(dict(e))):
        state = entry.get("status", lifecycle.PLANNED)
        error = entry.get("error") or {}
        spans.append(Span(
            number=entry["chunk"], first=entry["firstIndex"], last=entry["lastIndex"],
            state=state, batch_id=entry.get("batchId"),
            size=entry.get("batchSize") or entry.get("messages", 0),
            offset=entry.get("offset"), line=entry.get("line"),
            retryable=state == lifecycle.PLANNED or retryable(dict(entry)),
            note=error.get("message") or entry.get("note") or "",
            # what the journal counted pending: an adopted batch's recipients its store had
            # not named yet (reason adopted, sender.hold_unproven) or a store not complete
            pending=bool(entry.get("pending")) or entry.get("reason") == "pending",
            held=members.get(entry["chunk"])))
    return sorted(spans, key=lambda s: s.first)


def pieces_of(spans: list[Span]) -> list[tuple[int, int, int]]:
    """(first, last, index into ``spans``) of every range of positions a span's records lie
    in, in input order: a span cut by a resume around another chunk's range gives two or
    more, with that chunk's between them."""
    return sorted((a, b, k) for k, span in enumerate(spans) for a, b in span.pieces)


def in_order(blocks: Iterable[Block], rejected: list[Rejection] | Drains) -> Iterator[Record]:
    """Accepted records and the rejections the reader put in ``rejected`` (as it went), merged
    back into input order. The reader reports rejections in input order (it counts positions
    as it reads), so they are merged as a queue: each is let go once passed, and what waits is
    only what the reader put there since the last block."""
    pending = Pending()
    for block in blocks:
        pending.add(taken(rejected))
        lines, offsets = block.lines, block.offsets
        for k, position in enumerate(block.positions):
            while (head := pending.peek()) is not None and head.index < position:
                yield _rejected(pending.pop())
            text = block.texts[k] if block.texts is not None else None
            yield Record(position, lines[k] if lines is not None else None, block.tos[k], text,
                         None, offsets[k] if offsets is not None else None,
                         block.zones[k] if block.zones is not None else None)
    pending.add(taken(rejected))
    while pending.peek() is not None:
        yield _rejected(pending.pop())


def _rejected(rejection: Rejection) -> Record:
    """A rejection as a record: with its --tz-column zone when the reader had one, so it is
    placed as the run placed it, not by its number."""
    return Record(rejection.index, rejection.line, rejection.to, None, rejection,
                  zone=rejection.zone)


class Journaled:
    """The journal's local or server rejections, streamed in position order
    (journal.local_rejections, server_rejections) and asked for in rising positions, as rows
    are made: only the next one is held."""

    def __init__(self, rejections: Iterator[Rejection]) -> None:
        self._rejections = rejections
        self._next = next(rejections, None)

    def at(self, position: int) -> Rejection | None:
        """The journal's rejection of ``position``, if any; earlier ones are passed over."""
        while self._next is not None and self._next.index < position:
            self._next = next(self._rejections, None)
        if self._next is not None and self._next.index == position:
            return self._next
        return None
