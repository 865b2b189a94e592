"""A dry run: read and chunk without sending, and summarise what would be sent and what it
would cost (messages, SMS segments, GSM-7 or UCS-2 and why, an estimate at a price per
segment)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from engine.batching.chunker import chunk_blocks
from engine.core.aggregator import Aggregator, suppressed_by_source
from engine.core.rejections import Rejection
from engine.core.spillruns import Entry
from engine.reading import Block
from engine.reading import segments as seg

DEFAULT_PRICE = seg.DEFAULT_PRICE
FORCING_SHOWN = 5  # characters named as the reason for UCS-2


@dataclass(frozen=True, slots=True)
class Forcing:
    """A character that makes a text UCS-2, where it first occurs."""

    char: str
    line: int | None
    position: int

    def as_json(self) -> dict[str, Any]:
        return {"char": self.char, "codePoint": f"U+{ord(self.char):04X}", "line": self.line,
                "index": self.position}

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else f"record {self.position}"
        return f"{seg.describe_char(self.char)} first on {where}"


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    number: int
    recipients: int
    bytes: int
    first_position: int
    last_position: int
    segments: int = 0
    ucs2: int = 0  # messages sent as UCS-2

    def as_json(self, price: float = DEFAULT_PRICE) -> dict[str, Any]:
        return {"chunk": self.number, "recipients": self.recipients, "bytes": self.bytes,
                "firstIndex": self.first_position, "lastIndex": self.last_position,
                "segments": self.segments, "ucs2Messages": self.ucs2,
                "estimatedCost": seg.estimate_cost(self.segments, price)}


def _none() -> Iterator[Entry]:
    return iter(())


@dataclass(frozen=True, slots=True)
class Plan:
    """``rejected``: how many records were rejected locally; ``first_rejected``: the first
    few of them (by position); ``merged`` streams them all, by position, as JSON bytes."""

    chunks: list[ChunkPlan]
    records: int
    rejected: int = 0
    price_per_segment: float = DEFAULT_PRICE
    forcing: list[Forcing] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    first_rejected: list[Rejection] = field(default_factory=list)
    merged: Callable[[], Iterator[Entry]] = _none
    rejected_by_code: dict[str, int] = field(default_factory=dict)
    # of ``rejected``: the records a suppression list kept from sending, by source
    suppressed: dict[str, int] = field(default_factory=dict)
    # what a scheduled send would do (waves, cap days, counts by zone): the JSON of
    # engine/schedule/forecast.py's Forecast, which the CLI adds (this room is below it)
    schedule: dict[str, Any] | None = None

    @property
    def recipients(self) -> int:
        return sum(c.recipients for c in self.chunks)

    @property
    def bytes(self) -> int:
        return sum(c.bytes for c in self.chunks)

    @property
    def segments(self) -> int:
        return sum(c.segments for c in self.chunks)

    @property
    def ucs2(self) -> int:
        return sum(c.ucs2 for c in self.chunks)

    @property
    def cost(self) -> float:
        return seg.estimate_cost(self.segments, self.price_per_segment)

    def as_json(self) -> dict[str, Any]:
        """The whole plan in memory, its rejections too: for small lists (``a2p plan --json``
        streams ``head_json`` and then ``merged``)."""
        return {**self.head_json(),
                "rejected": [orjson.loads(payload) for _, payload in self.merged()]}

    def head_json(self) -> dict[str, Any]:
        """The plan's JSON but its ``rejected`` (which comes last)."""
        price = self.price_per_segment
        return {"records": self.records, "recipients": self.recipients,
                "rejectedLocal": self.rejected, "rejectedByCode": self.rejected_by_code,
                "suppressed": self.suppressed,
                "chunks": [c.as_json(price) for c in self.chunks], "bytes": self.bytes,
                "segments": self.segments, "gsm7Messages": self.recipients - self.ucs2,
                "ucs2Messages": self.ucs2, "ucs2Because": [f.as_json() for f in self.forcing],
                "pricePerSegment": price, "estimatedCost": self.cost,
                "warnings": self.warnings,
                **({"schedule": self.schedule} if self.schedule is not None else {})}


@dataclass(slots=True)
class _BlockCost:
    """Segments and UCS-2 flags of one block's records; an int or bool when all are alike."""

    positions: Sequence[int]
    segments: list[int] | int
    ucs2: list[bool] | bool

    def range(self, first: int, last: int) -> tuple[int, int]:
        """(segments, UCS-2 messages) of the records at positions first..last."""
        i, j = bisect_left(self.positions, first), bisect_right(self.positions, last)
        segs = self.segments * (j - i) if isinstance(self.segments, int) else sum(
            self.segments[i:j])
        ucs2 = (j - i if self.ucs2 else 0) if isinstance(self.ucs2, bool) else sum(
            self.ucs2[i:j])
        return segs, ucs2


class CostTally:
    """Counts each block's segments as the chunker reads it and hands each chunk its share.

    The batch text is counted once; a block's own texts with C-level maps for the alphabet
    and arithmetic for the lengths (``segments.count_many``). Only the block being read is
    kept record by record: the chunker ends a chunk inside the block it is fed, or right
    after the records before it, so whatever earlier blocks left over belongs, whole, to the
    next chunk and is kept as two sums (memory does not grow with a chunk's records, nor
    with the rejections between them).
    """

    def __init__(self, batch_text: str | None) -> None:
        self.batch = seg.encoding_of(batch_text) if batch_text else None
        self.forcing: dict[str, Forcing] = {}
        self._carry = (0, 0)  # (segments, UCS-2) of earlier blocks' records in no chunk yet
        self._current: _BlockCost | None = None
        self._taken_to = -1  # the last position of the current block already in a chunk

    def tap(self, blocks: Iterable[Block]) -> Iterator[Block]:
        for block in blocks:
            cost = self._measure(block)
            if self._current is not None and len(self._current.positions):
                s, u = self._current.range(self._taken_to + 1, self._current.positions[-1])
                self._carry = (self._carry[0] + s, self._carry[1] + u)
            self._current, self._taken_to = cost, -1
            yield block

    def take(self, first: int, last: int) -> tuple[int, int]:
        """(segments, UCS-2 messages) of the chunk holding positions first..last."""
        segments, ucs2 = self._carry
        self._carry = (0, 0)
        if self._current is not None:
            s, u = self._current.range(max(first, self._taken_to + 1), last)
            segments, ucs2 = segments + s, ucs2 + u
            self._taken_to = max(self._taken_to, last)
        return segments, ucs2

    def _measure(self, block: Block) -> _BlockCost:
        texts = block.texts
        if texts is None:
            batch = self.batch
            assert batch is not None  # a record without its own text has the batch text
            if batch.forcing:
                self._note(batch.forcing, block, 0)
            return _BlockCost(block.positions, batch.segments, batch.name == seg.UCS2)
        if None in texts:  # some records use the batch text: count it once for all of them
            batch = self.batch
            assert batch is not None
            own = [t for t in texts if t is not None]
            counts, wide = seg.count_many(own)
            mine, flags = iter(counts), iter(wide)
            counts = [batch.segments if t is None else next(mine) for t in texts]
            wide = [batch.name == seg.UCS2 if t is None else next(flags) for t in texts]
        else:
            counts, wide = seg.count_many(texts)  # type: ignore[arg-type]
        if len(self.forcing) < FORCING_SHOWN and any(wide):
            self._first_forcing(texts, wide, block)
        return _BlockCost(block.positions, counts, wide)

    def _first_forcing(self, texts: list[str | None], wide: list[bool], block: Block) -> None:
        """Note the characters forcing UCS-2 not seen before, each with its first record."""
        wide_texts = [t for t, w in zip(texts, wide, strict=True) if w and t is not None]
        new = sorted(seg.forcing_in(wide_texts) - self.forcing.keys())
        if not new:
            return
        for k, text in enumerate(texts):
            if text is not None and wide[k]:
                self._note([c for c in seg.ucs2_forcing(text, len(text)) if c in new], block, k)
            if len(self.forcing) >= FORCING_SHOWN:
                return

    def _note(self, chars: Iterable[str], block: Block, k: int) -> None:
        line = block.lines[k] if block.lines is not None else None
        for c in chars:
            if len(self.forcing) < FORCING_SHOWN and c not in self.forcing:
                self.forcing[c] = Forcing(c, line, block.positions[k])


def batch_text_warning(text: str | None) -> str | None:
    """A warning when the batch text alone makes every message UCS-2, with what it costs."""
    if not text:
        return None
    encoding = seg.encoding_of(text)
    if not encoding.forcing:
        return None
    plain = text
    for c in seg.ucs2_forcing(text, limit=len(text)):
        plain = plain.replace(c, "?")
    chars = ", ".join(map(seg.describe_char, encoding.forcing))
    return (f"the batch text is UCS-2 because of {chars}: a segment holds 70 characters "
            f"instead of 160, so every message costs {encoding.segments} segment(s) where "
            f"GSM-7 would cost {seg.segment_count(plain)}. Replace those characters (e.g. "
            "curly quotes with straight ones) to cut the bill.")


def make_plan(blocks: Iterable[Block], aggregator: Aggregator, sender: str, text: str | None,
              max_bytes: int, max_messages: int | None = None,
              price_per_segment: float = DEFAULT_PRICE) -> Plan:
    """Chunk every block and keep only sizes, position ranges and segment counts, never the
    bodies.

    ``aggregator`` must be the sink the reader reports local rejections to; the plan keeps
    its first few rejections and streams the rest from its spill.
    """
    tally = CostTally(text)
    chunks = []
    for c in chunk_blocks(tally.tap(blocks), sender, text, max_bytes, max_messages,
                          keep_bodies=False):
        segments, ucs2 = tally.take(c.first_position, c.last_position)
        chunks.append(ChunkPlan(c.number, c.count, c.size, c.first_position, c.last_position,
                                segments, ucs2))
    records = sum(c.recipients for c in chunks) + aggregator.rejected_local
    warnings = [w for w in (batch_text_warning(text), aggregator.mostly_rejected(records)) if w]
    return Plan(chunks, records, aggregator.rejected_local, price_per_segment,
                list(tally.forcing.values()), warnings, aggregator.tally.first(),
                aggregator.merged,
                dict(aggregator.tally.by_code.most_common()),
                suppressed_by_source(aggregator))
