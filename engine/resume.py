"""Resuming a run from its journal: what was settled stays settled, what was in flight is
reconciled, what was never sent is read again from where it begins."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from engine import lifecycle
from engine.chunker import Chunk, Chunker
from engine.journal import JournalError, JournalState, input_identity
from engine.reader import Block
from engine.rejections import SERVER, Aggregator, Rejection
from engine.report import ChunkRecord

IN_FLIGHT = (lifecycle.SUBMITTING, lifecycle.AMBIGUOUS)
# Failures that say nothing about the chunk itself: certainly not sent, so a resume sends it.
RETRYABLE_CODES = ("NOT-SENT", "NO-ANSWER")
RETRYABLE_STATUSES = (429, 500, 502, 503, 504)


def retryable(entry: dict[str, Any]) -> bool:
    """A chunk that failed for want of a working network or server, not for its content."""
    error = entry.get("error") or {}
    return error.get("errorCode") in RETRYABLE_CODES or \
        error.get("status") in RETRYABLE_STATUSES


def undecided(entry: dict[str, Any]) -> bool:
    """Left unknown only because reconciliation itself failed: try it again."""
    return (entry.get("note") or "").startswith("could not reconcile")


def check_matches(state: JournalState, source: str, sender: str, text: str | None,
                  template: str | None) -> None:
    """Refuse to resume a journal of another list, sender or text: never guess."""
    header = state.header
    for key, given in (("sender", sender), ("text", text), ("template", template)):
        if header.get(key) != given:
            raise JournalError(f"the journal was written for {key} {header.get(key)!r}, not "
                               f"{given!r}. Resume with the same {key}, or start a new run.")
    recorded = header.get("input", {})
    if recorded.get("kind") == "file":
        current = input_identity(source)
        for key in ("size", "mtimeNs", "head"):
            if current.get(key) != recorded.get(key):
                raise JournalError(
                    f"{source} changed since the journal was written ({key} "
                    f"{recorded.get(key)!r} -> {current.get(key)!r}). Resume needs the very "
                    "same file; for a changed list start a new run.")


def record_of(entry: dict[str, Any]) -> ChunkRecord:
    """A chunk record as the journal last described it."""
    record = ChunkRecord(entry["chunk"], entry.get("firstIndex", entry.get("first", 0)),
                         entry.get("lastIndex", entry.get("last", 0)),
                         entry.get("messages", entry.get("count", 0)), entry.get("bytes", 0))
    record.state = entry.get("status", entry["state"])
    for name, key in (("attempts", "attempts"), ("batch_id", "batchId"),
                      ("batch_size", "batchSize"), ("processed", "processedCount"),
                      ("cost", "cost"), ("delivered", "delivered"),
                      ("delivery_failed", "deliveryFailed"), ("submitted_at", "submittedAt"),
                      ("queued", "queued"), ("sent", "sent"), ("sending_failed", "sendingFailed"),
                      ("counts_read_at", "countsReadAt"),
                      ("completed_at", "completedAt"), ("error", "error"), ("note", "note"),
                      ("created", "createdAt")):
        if entry.get(key) is not None:
            setattr(record, name, entry[key])
    record.error_codes = entry.get("errorCodeCounts") or entry.get("errorCodes") or {}
    return record


@dataclass
class ResumePlan:
    """What resuming has to do."""

    records: dict[int, ChunkRecord]
    in_flight: list[dict[str, Any]]
    skip: list[tuple[int, int]]
    read_from: dict[str, Any] | None
    next_number: int
    max_bytes: int | None
    known_local: frozenset[int] = frozenset()


def restore(state: JournalState, aggregator: Aggregator) -> ResumePlan:
    """Rebuild the records and rejections the journal holds, and plan what is left."""
    records, in_flight, skip, planned = {}, [], [], []
    max_bytes = None
    for number, entry in sorted(state.chunks.items()):
        current = entry.get("status", entry.get("state"))
        if entry.get("maxBatchBytes"):
            max_bytes = entry["maxBatchBytes"]
        if current == lifecycle.PLANNED or (current == lifecycle.FAILED and retryable(entry)):
            planned.append(entry)
            continue
        if current == lifecycle.UNKNOWN and undecided(entry):
            current = entry["status"] = lifecycle.AMBIGUOUS
        record = record_of(entry)
        records[number] = record
        if current != lifecycle.SPLIT:
            skip.append((record.first, record.last))
        if current in IN_FLIGHT:
            in_flight.append(entry)
        for item in entry.get("rejected") or []:
            aggregator.add_known(Rejection(item["index"], item["line"], item["to"],
                                           item["errorCode"], item["description"],
                                           item["batchId"], SERVER))
        if current in (lifecycle.ACCEPTED, lifecycle.COMPLETED):
            aggregator.sent += record.count - len(entry.get("rejected") or [])
    for rejection in state.local.values():
        aggregator.add_local(rejection)
    return ResumePlan(records, in_flight, sorted(skip), _read_from(state, planned),
                max(state.chunks, default=0), max_bytes, frozenset(state.local))


def _read_from(state: JournalState, planned: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The chunk entry whose offset the remaining input is read from; None: from the start."""
    if planned:
        first = min(planned, key=lambda e: e["first"])
        return first if first.get("offset") is not None else None
    placed = [e for e in state.chunks.values() if e.get("offset") is not None]
    return max(placed, key=lambda e: e["first"]) if placed else None


def covered(ranges: list[tuple[int, int]], position: int) -> bool:
    k = bisect_right(ranges, (position, 1 << 62)) - 1
    return k >= 0 and ranges[k][0] <= position <= ranges[k][1]


def without(blocks: Iterable[Block], ranges: list[tuple[int, int]]) -> Iterator[Block]:
    """The records of ``blocks`` whose positions no range covers."""
    for block in blocks:
        keep = [k for k, p in enumerate(block.positions) if not covered(ranges, p)]
        if len(keep) == len(block):
            yield block
        elif keep:
            yield _subset(block, keep)


def within(blocks: Iterable[Block], first: int, last: int) -> Iterator[Block]:
    """The records of ``blocks`` from position ``first`` to ``last``, then stop."""
    for block in blocks:
        keep = [k for k, p in enumerate(block.positions) if first <= p <= last]
        if keep:
            yield _subset(block, keep)
        if block.positions and block.positions[-1] >= last:
            return


def _subset(block: Block, keep: list[int]) -> Block:
    return Block(
        [block.tos[k] for k in keep],
        [block.texts[k] for k in keep] if block.texts is not None else None,
        [block.positions[k] for k in keep],
        [block.lines[k] for k in keep] if block.lines is not None else None,
        [block.offsets[k] for k in keep] if block.offsets is not None else None,
    )


def rebuild_chunk(blocks: Iterable[Block], entry: dict[str, Any], sender: str,
                  text: str | None) -> Chunk:
    """The chunk an in-flight journal entry describes, from the input read again."""
    chunker = Chunker(sender, text, 1 << 40)
    for block in within(blocks, entry["first"], entry["last"]):
        for _ in chunker.feed(block):
            pass
    chunk = chunker.finish()
    count = entry.get("messages", entry.get("count"))
    if chunk is None or chunk.count != count:
        raise JournalError(f"chunk {entry['chunk']} held {count} recipients and the input "
                           "now gives a different set; the input changed. Check the batches "
                           "on RingCentral before sending again.")
    return Chunk(entry["chunk"], chunk.body, chunk.size, chunk.index, entry.get("offset"))
