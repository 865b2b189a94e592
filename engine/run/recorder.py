"""The one owner of a run's chunk records: every state change goes through here, is written
to the journal (and fsync'd) first, and only then told to the world as an event.

The sender, the lost-answer path and the tracker decide; the recorder remembers. Nothing
else holds a record mutably, so "what does the run know about chunk 12" has one answer.
"""

from __future__ import annotations

import tempfile
import weakref
from collections.abc import Awaitable, Callable, Iterable
from types import MappingProxyType
from typing import IO, Any

import orjson

from engine.batching.chunker import Chunk
from engine.core.holdings import Holdings, Members
from engine.core.lifecycle import SPLIT, Reason
from engine.core.rejections import Aggregator, Rejection, Spill
from engine.run.events import ChunkFailed, Event, Rejected
from engine.run.journal import ChunkEntry, Journal, local_entry, state_entry, superseded_entry
from engine.run.report import ChunkRecord

Emit = Callable[[Event], Awaitable[None]]
Origin = tuple[int | None, int | None]  # (input offset, file line) where a chunk begins


class Recorder:
    def __init__(self, emit: Emit, *, journal: Journal | None = None,
                 open_journal: Callable[[], Journal] | None = None,
                 spill: Spill | None = None) -> None:
        """``open_journal`` opens the journal when the first chunk is about to be sent, so a
        run that ends before (refused login, --strict, a stop) leaves nothing that blocks the
        same command; ``journal``: one already open (a resumed run); ``spill``: where the
        aggregator writes every rejection (engine/run/spill.py; in memory when None)."""
        self._emit = emit
        self._journal = journal
        self._open_journal = open_journal
        # entries written before the journal opens, held on disk: a list of bad rows read
        # before its first batch is full would otherwise wait in memory (see keep_journal)
        self._held: IO[bytes] | None = None
        self._records: dict[int, ChunkRecord] = {}
        self._origins: dict[int, Origin] = {}
        self._skip = Holdings()  # what a resumed run skips: other chunks' records
        self._members: dict[int, Members] = {}  # what each chunk holds, where known
        self.aggregator = Aggregator(spill) if spill is not None else Aggregator()
        # whether a chunk with many gaps may journal them as a bitmap (``held``): not in a
        # journal of version 1, which builds before bitmaps read (journal.VERSION)
        self.bitmaps = True
        # a scheduled round's chunks journal every hole as a gap (many: as a bitmap): a
        # recipient its round left out (window closed) is held by no chunk, and a later
        # round sends it
        self.holes = False

    @property
    def records(self) -> MappingProxyType[int, ChunkRecord]:
        return MappingProxyType(self._records)

    def origin(self, number: int) -> Origin:
        return self._origins.get(number, (None, None))

    def members(self, number: int) -> Members | None:
        """The positions chunk ``number`` holds; None: not known (a chunk of a journal
        written before gaps were)."""
        return self._members.get(number)

    def restore(self, records: dict[int, ChunkRecord], origins: dict[int, Origin],
                skip: Holdings | None = None, members: dict[int, Members] | None = None
                ) -> None:
        """The records a resumed run's journal holds (and what they journaled they hold),
        and what its chunks hold (``ResumePlan.holdings``): a chunk cut around them
        journals them as its gaps."""
        self._records.update(records)
        self._origins.update(origins)
        self._skip = skip if skip is not None else Holdings()
        self._members.update(members or {})

    # the journal ------------------------------------------------------------------------

    def record_for(self, chunk: Chunk) -> ChunkRecord:
        """The chunk's record, journaled (range and input offset) before anything is sent."""
        record = ChunkRecord(chunk.number, chunk.first_position, chunk.last_position,
                             chunk.count, chunk.size)
        self._records[chunk.number] = record
        line = chunk.index.locate(1)[1] if chunk.count else None
        self._origins[chunk.number] = (chunk.start_offset, line)
        held = self._members[chunk.number] = self._members_of(chunk)
        self._write(ChunkEntry.of(chunk.number, record.first, record.last, record.count,
                                  record.bytes, chunk.start_offset, line, held,
                                  chunk.digest).to_json())
        return record

    def split(self, record: ChunkRecord, halves: tuple[Chunk, Chunk], note: str,
              **extra: Any) -> tuple[ChunkRecord, ChunkRecord]:
        """A 413's chunk split, journaled on one line with its halves' entries (range,
        offset, gaps, digest): a kill leaves either the chunk in flight (a resume looks for
        its batch, finds none, and sends it again) or its halves holding its records, never
        a record held by neither. Returns the halves' records."""
        made = [(ChunkRecord(half.number, half.first_position, half.last_position, half.count,
                             half.size), half) for half in halves]
        origins = {half.number: (half.start_offset, half.index.locate(1)[1]) for half in halves}
        held = {half.number: self._members_of(half) for half in halves}
        entries = [ChunkEntry.of(h.number, r.first, r.last, r.count, r.bytes,
                                 *origins[h.number], held[h.number], h.digest).to_json()
                   for r, h in made]
        self.move(record, SPLIT, Reason.TOO_LARGE, note, halves=entries, **extra)
        for half_record, half in made:  # known once journaled
            self._records[half.number] = half_record
        self._origins.update(origins)
        self._members.update(held)
        return made[0][0], made[1][0]

    def _members_of(self, chunk: Chunk) -> Members:
        """The positions the chunk holds: its range less the holes of its positions that
        other chunks held (the resumed run's skip covers them; skipped when it was cut).
        With ``holes`` (a scheduled round), less every hole: exactly its records' positions
        (many holes: a bitmap, from its index's runs, never a tuple a hole)."""
        first, last = chunk.first_position, chunk.last_position
        if chunk.count == last - first + 1:
            return Members(first, last)
        if self.holes and self.bitmaps:
            return Members.of_runs(first, last, (
                (piece[k], piece[k] + piece[k + 1] - 1)
                for piece in chunk.index.position_run_pieces()
                for k in range(0, len(piece), 2)))
        if self.holes:
            return Members(first, last, tuple(chunk.index.holes()))
        if not self._skip:
            return Members(first, last)
        gaps = [gap for a, b in chunk.index.holes() for gap in self._skip.covered(a, b)]
        return Members.of_gaps(first, last, gaps) if self.bitmaps else \
            Members(first, last, tuple(gaps))

    def supersede(self, numbers: Iterable[int]) -> None:
        """Chunks never sent that this resumed run cuts again from their records: journaled
        as superseded before any new chunk, so no reader counts their records twice."""
        for number in numbers:
            self._write(superseded_entry(number))

    def _write(self, entry: dict[str, Any]) -> None:
        if self._journal is None and self._open_journal is not None:
            if entry["type"] != "chunk":
                if self._held is None:
                    self._held = tempfile.TemporaryFile()  # noqa: SIM115 (closed below)
                    weakref.finalize(self, self._held.close)  # a recorder never closed too
                self._held.write(orjson.dumps(entry) + b"\n")
                return
            self.keep_journal()
        if self._journal is not None:
            self._journal.write(entry)

    def keep_journal(self) -> None:
        """Write the journal held back so far. Called before the first chunk, and when a run
        ends without one (every record rejected locally), so `a2p outcomes` still has it."""
        if self._journal is None and self._open_journal is not None:
            self._journal, self._open_journal = self._open_journal(), None
            if self._held is not None:
                self._held.seek(0)
                for line in self._held:
                    self._journal.write(orjson.loads(line))
                self._drop_held()

    def _drop_held(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None

    def close(self) -> None:
        self._drop_held()
        if self._journal is not None:
            self._journal.close()

    def save(self, record: ChunkRecord, **extra: Any) -> None:
        """The record's new state, written (and fsync'd) before the run goes on."""
        if self._journal is not None:
            self._journal.write(state_entry(record, **extra))

    def move(self, record: ChunkRecord, state: str, reason: Reason | None = None,
             note: str | None = None, *, via: str | None = None, **extra: Any) -> None:
        """The one door for a chunk's state changes: through the lifecycle table, then
        journaled; ``reason`` and ``note`` replace the record's when given. ``via``: a state
        the table requires on the way (unknown only after ambiguous), passed in memory when
        the record is not in it already, so the journal sees only where the chunk ends."""
        if via is not None and record.state != via:
            record.move(via)
        record.move(state)
        if reason is not None:
            record.reason = reason
        if note is not None:
            record.note = note
        self.save(record, **extra)

    # what the world is told -------------------------------------------------------------

    async def emit(self, event: Event) -> None:
        await self._emit(event)

    async def failed(self, record: ChunkRecord) -> None:
        """A chunk_failed event for a record that ended failed or unknown."""
        await self._emit(ChunkFailed(record.number, record.state, record.first, record.last,
                                     record.error, record.note))

    async def local(self, rejections: list[Rejection]) -> None:
        """Rejections the reader found: journaled, counted, told."""
        if rejections:
            self._write(local_entry(rejections))
        for rejection in rejections:
            self.aggregator.add_local(rejection)
            await self._emit(Rejected.of(rejection))

    async def rejected(self, rejections: Iterable[Rejection]) -> None:
        for rejection in rejections:
            await self._emit(Rejected.of(rejection))

