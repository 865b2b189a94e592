"""A dry run: read and chunk without sending, and summarise what would be sent."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.chunker import chunk_blocks
from engine.reader import Block
from engine.rejections import Aggregator, Rejection


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    number: int
    recipients: int
    bytes: int
    first_position: int
    last_position: int

    def as_json(self) -> dict[str, Any]:
        return {"chunk": self.number, "recipients": self.recipients, "bytes": self.bytes,
                "firstIndex": self.first_position, "lastIndex": self.last_position}


@dataclass(frozen=True, slots=True)
class Plan:
    chunks: list[ChunkPlan]
    records: int
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def recipients(self) -> int:
        return sum(c.recipients for c in self.chunks)

    @property
    def bytes(self) -> int:
        return sum(c.bytes for c in self.chunks)

    def as_json(self) -> dict[str, Any]:
        return {"records": self.records, "recipients": self.recipients,
                "rejectedLocal": len(self.rejected), "chunks": [c.as_json() for c in self.chunks],
                "bytes": self.bytes, "rejected": [r.as_json() for r in self.rejected]}


def make_plan(blocks: Iterable[Block], aggregator: Aggregator, sender: str, text: str | None,
              max_bytes: int, max_messages: int | None = None) -> Plan:
    """Chunk every block and keep only sizes and position ranges, never the bodies.

    ``aggregator`` must be the sink the reader reports local rejections to.
    """
    chunks = [ChunkPlan(c.number, c.count, c.size, c.first_position, c.last_position)
              for c in chunk_blocks(blocks, sender, text, max_bytes, max_messages,
                                    keep_bodies=False)]
    records = sum(c.recipients for c in chunks) + aggregator.rejected_local
    return Plan(chunks, records, aggregator.rejections())
