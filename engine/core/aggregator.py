"""The Aggregator: counts local and server rejections, keeps the first few, and writes every
one as it arrives to a spill (a file in a run, ``MemorySpill`` in tests), from which ``merged``
reads them all back in input order. The rejections themselves are engine/core/rejections.py's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from engine.core.chunkindex import PositionIndex
from engine.core.consent import CONSENT_MARK
from engine.core.rejections import OPTED_OUT, Rejection, rejection_of, translate, warning_of
from engine.core.spillruns import Entry, Tally

if TYPE_CHECKING:
    from engine.core.localbatch import LocalBatch, LocalSink

__all__ = ["Aggregator", "MemorySpill", "NoSpill", "Spill", "suppressed_by_source"]


class Spill(Protocol):
    """Where an Aggregator writes every rejection as it arrives: a file (engine/run/spill.py)
    in a run, a list in memory (``MemorySpill``) for tests and small lists."""

    def add(self, index: int, payload: bytes) -> None:
        """One rejection: its position and its JSON (``Rejection.as_json``) bytes."""

    def add_many(self, indexes: Sequence[int], payloads: list[bytes]) -> None:
        """Rejections at strictly increasing positions, with their JSON: as ``add`` of each,
        in one go."""

    def merged(self) -> Iterator[Entry]:
        """Every rejection added so far as (position, JSON bytes), sorted by position."""
        ...


class NoSpill:
    """No spill: the rejections are counted and the first few kept (``Tally``), the rest
    forgotten. For a view that shows only those (``a2p plan`` without --json)."""

    def add(self, index: int, payload: bytes) -> None:
        raise AssertionError("NoSpill takes no rejection: the Aggregator skips it")

    def add_many(self, indexes: Sequence[int], payloads: list[bytes]) -> None:
        raise AssertionError("NoSpill takes no rejection: the Aggregator skips it")

    def merged(self) -> Iterator[Entry]:
        raise TypeError("this plan kept no rejections on disk; plan with --json to list "
                        "them all")


class MemorySpill:
    """A spill kept in memory: for tests and small lists, never for a whole run's."""

    def __init__(self) -> None:
        self._entries: list[Entry] = []

    def add(self, index: int, payload: bytes) -> None:
        self._entries.append((index, payload))

    def add_many(self, indexes: Sequence[int], payloads: list[bytes]) -> None:
        self._entries.extend(zip(indexes, payloads, strict=True))

    def merged(self) -> Iterator[Entry]:
        return iter(sorted(self._entries, key=itemgetter(0)))


@dataclass
class Aggregator:
    """Counts local and server rejections, keeps the first few (``tally``), and writes every
    one, as it arrives, to its ``spill``: ``merged`` reads them all back by input position."""

    spill: Spill = field(default_factory=MemorySpill)
    tally: Tally = field(default_factory=Tally)
    records: int = 0
    _sent: int = 0  # changed only by the methods below: see ``sent``
    rejected_local: int = 0
    rejected_server: int = 0
    pending: int = 0  # recipients of adopted batches whose store was not complete yet
    suppressed_consent: int = 0  # of the LCL-OPTED-OUT: by a RingCentral consent record

    def _write(self, rejection: Rejection) -> None:
        self.tally.add(rejection)
        if not isinstance(self.spill, NoSpill):  # no description written when none is kept
            self.spill.add(rejection.index, orjson.dumps(rejection.as_json()))

    def add_local(self, rejection: Rejection) -> None:
        self._write(rejection)
        self.rejected_local += 1
        if rejection[3] == OPTED_OUT and rejection[4] is not None and \
                CONSENT_MARK in rejection[4]:
            self.suppressed_consent += 1  # a consent record's, not a file's (written out)

    def add_locals(self, batch: LocalBatch) -> None:
        """A block's local rejections at once (the reader's bulk path): what ``add_local``
        of each would do, in a few C-level passes: counted by code, the few kept for display
        built, and (with a spill) their JSON written in one go."""
        refused = len(batch)
        if not refused:
            return
        self.tally.add_many(batch)
        if not isinstance(self.spill, NoSpill):
            indexes = batch.indexes()
            self.spill.add_many(indexes, batch.payloads(indexes))
        self.rejected_local += refused

    def local_sink(self) -> LocalSink:
        """The sink a reader hands local rejections to: one at a time, or a block at once."""
        from engine.core.localbatch import LocalSink  # it imports engine.core.rejections

        return LocalSink(self.add_local, self.add_locals)

    def add_chunk(self, index: PositionIndex, batch_id: str | None,
                  rejected: Iterable[Mapping[str, Any]]) -> list[Rejection]:
        """Record one chunk's answer; returns its rejections in input terms (in the answer's
        order; they are spilled sorted, so one chunk's make one run)."""
        translated = translate(index, batch_id, rejected)
        self.add_answer(index.count, translated)
        return translated

    def add_answer(self, count: int, translated: list[Rejection]) -> None:
        """A chunk of ``count`` messages accepted with these rejections (``translate``d):
        the sender journals the answer before it is counted here."""
        for rejection in sorted(translated, key=_position):
            self._write(rejection)
        self.rejected_server += len(translated)
        self._sent += count - len(translated)

    def add_known(self, rejection: Rejection) -> None:
        """A server rejection already translated (from a journal)."""
        self._write(rejection)
        self.rejected_server += 1

    def restored(self, sent: int, pending: int = 0) -> None:
        """A chunk a journal shows accepted: ``sent`` recipients, ``pending`` not known yet."""
        self._sent += sent
        self.pending += pending

    def recovered(self, rejections: Iterable[Rejection], pending: int,
                  was_pending: int = 0) -> None:
        """An adopted chunk, counted sent but for the ``was_pending`` recipients, now read
        back from its message store: these rejections, and ``pending`` recipients the store
        still does not list (neither sent nor rejected as far as is known)."""
        taken = sorted(rejections, key=_position)
        for rejection in taken:
            self.add_known(rejection)
        self._sent -= len(taken) + pending - was_pending
        self.pending += pending - was_pending

    @property
    def sent(self) -> int:
        """Recipients proven sent: read-only, since only an answer, a journal or a message
        store (the methods above) may change it."""
        return self._sent

    def merged(self) -> Iterator[Entry]:
        """Every rejection as (position, JSON bytes), by position: streamed from the spill."""
        return self.spill.merged()

    def rejections(self) -> list[Rejection]:
        """Every rejection, by position, parsed back into memory: for tests and small lists;
        a run streams ``merged`` instead."""
        return [rejection_of(orjson.loads(payload)) for _, payload in self.merged()]

    def mostly_rejected(self, records: int) -> str | None:
        """The mostly-rejected warning, from the counts and kept examples alone."""
        return warning_of(records, self.tally.by_code, self.tally.examples)


def suppressed_by_source(aggregator: Aggregator) -> dict[str, int]:
    """The recipients kept from sending as opted out (of ``rejected_local``), by source:
    {"file": N} for the --suppress lists, {"consent": M} for RingCentral's consent records;
    a source that suppressed nobody is left out ({} when none did)."""
    consent = aggregator.suppressed_consent
    file = aggregator.tally.by_code.get(OPTED_OUT, 0) - consent
    return {k: v for k, v in (("file", file), ("consent", consent)) if v}


def _position(rejection: Rejection) -> int:
    return rejection.index
