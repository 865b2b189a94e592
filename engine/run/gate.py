"""The consent gate: takes the recipients RingCentral's opt-outs suppress (the set
engine/run/consent.py reads) out of what a run sends, each an ``LCL-OPTED-OUT`` local
rejection.

Why a gate after the reader and not the reader's own ``--suppress`` set: a resume's reader
judges by the run's copy of its files (engine/run/suppresskept.py), so it judges the whole list
again as the run did; consent records change while a campaign runs (a STOP), and so does a
do-not-contact file (a resume's gate also takes the numbers its files gained since). A resume
must suppress a new opt-out among the recipients not yet sent, and must not touch those
already sent, which its input check reads again and compares with what their chunks
journaled. So the gate works on what the resume will send (after the skipped chunks are
taken out), and the positions it rejected are journaled as local rejections, which a later
read drops before anything compares them (``drop``).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from itertools import islice

from engine.batching.bodyscan import pieces_of, recipients
from engine.batching.chunker import Chunk
from engine.core.positions import GrowingPositions
from engine.core.rejections import DUPLICATE, OPTED_OUT, Rejection
from engine.reading import Block, phone
from engine.reading.consentset import ConsentSet
from engine.reading.suppressed import Suppressed
from engine.run import localqueue

SCREEN_SLICE = 8192  # recipients of a chunk looked up at a time


class Gate:
    """Takes the recipients ``consents`` suppresses out of the blocks a run sends, each an
    LCL-OPTED-OUT rejection to ``sink``; ``drop`` takes out, from blocks read again, the
    positions it (or a run before, ``known``: the journal's local rejections) rejected.

    The reader's own rejections come through ``hold`` and are handed on with the gate's, in
    position order, as each block passes: the journal and the spill read local rejections
    back as ascending runs, and rejections out of order would make a run each (past 64 a
    resume sorts them all in memory)."""

    def __init__(self, consents: ConsentSet, sink: Callable[[Rejection], None],
                 known: AbstractSet[int] = frozenset(), files: Suppressed | None = None,
                 check: Callable[[str], phone.Checked] = phone.e164) -> None:
        self.consents = consents
        self.sink = sink
        self.known = known
        # a resume's: numbers its --suppress files gained since the run read them
        # (engine/run/suppresskept.py), suppressed like a new opt-out
        self.files = files
        self.check = check  # the reader's number check: a duplicate's number as it read it
        # compact, in ascending order: a list may hold millions of them
        self.rejected = GrowingPositions()
        self.screened: set[int] = set()  # of chunks screened before a POST: few, any order
        self._held: list[Rejection] = []

    def hold(self, rejection: Rejection) -> None:
        """The reader's sink: its rejections wait for the block they precede (without
        opt-outs in scope nothing can come between them: they go on at once)."""
        if not len(self.consents) and self.files is None:
            self.sink(rejection)
            return
        if rejection.error_code == DUPLICATE:
            rejection = self.opted_out(rejection)
        self._held.append(rejection)
        if len(self._held) >= localqueue.FLUSH_AT:  # a long run of bad records: handed on
            self.release()  # as the run's own queue would hand them on

    def opted_out(self, repeat: Rejection) -> Rejection:
        """A repeat (--dedupe) of a number the consents (or the files' gains) suppress is
        opted out, not a duplicate, as a repeat of a --suppress number is: every record of
        it says why it was not sent, and ``a2p outcomes --only suppressed`` lists them all."""
        number = self.check(repeat.to) if repeat.to is not None else None
        hits = self._hits([number], self.consents) if isinstance(number, str) else []
        if not hits:
            return repeat
        return Rejection(repeat.index, repeat.line, repeat.to, OPTED_OUT, hits[0][1])

    def release(self, own: list[Rejection] | None = None) -> None:
        """Hand on what is held (and ``own``), by position."""
        items, self._held = self._held + (own or []), []
        items.sort(key=_position)
        for rejection in items:
            self.sink(rejection)

    def block(self, block: Block) -> Block | None:
        """The block without its suppressed recipients (None: none is left)."""
        # one set for the block: a read again may swap it meanwhile
        hits = self._hits(block.tos, self.consents)
        if not hits:
            if self._held:
                self.release()
            return block
        lines, zones, own = block.lines, block.zones, []
        for k, why in hits:
            to, position = block.tos[k], block.positions[k]
            self.rejected.add(position)
            own.append(Rejection(position, lines[k] if lines is not None else None, to,
                                 OPTED_OUT, why, zone=zones[k] if zones is not None else None))
        self.release(own)
        gone = {k for k, _ in hits}
        keep = [k for k in range(len(block)) if k not in gone]
        return block.subset(keep) if keep else None

    def screen(self, chunk: Chunk) -> list[tuple[int, Rejection]]:
        """The messages of a chunk (0-based, with their rejections) that the consents read
        now suppress: a chunk in flight at the stop and proved not created, before it is
        sent again (an opt-out may have come during the stop), or one cut before the
        opt-outs were read again (engine/run/consentrefresh.py), before its first POST.
        Its recipients are read from its body a slice at a time, never all held."""
        consents = self.consents
        if not len(consents) and self.files is None:
            return []
        out, base = [], 0
        for tos in _slices(recipients(pieces_of(chunk.body)), SCREEN_SLICE):
            for k, why in self._hits(tos, consents):
                position, line = chunk.index.locate(base + k + 1)
                self.screened.add(position)  # a rebuild of what is left drops it
                out.append((base + k, Rejection(position, line, tos[k], OPTED_OUT, why)))
            base += len(tos)
        return out

    def _hits(self, tos: list[str], consents: ConsentSet) -> list[tuple[int, str]]:
        """Each suppressed recipient of ``tos`` (its index) and why: a number a file gained
        first (a number on a file and in a record counts as the file's), then ``consents``."""
        found: dict[int, str] = {}
        if self.files is not None:
            found.update((k, self.files.describe(tos[k])) for k in self.files.hits(tos))
        if len(consents):
            for k in consents.hits(tos):
                found.setdefault(k, consents.describe(tos[k]))
        return sorted(found.items())

    def apply(self, blocks: Iterable[Block]) -> Iterator[Block]:
        for block in blocks:
            kept = self.block(block)
            if kept is not None:
                yield kept
        self.release()  # the reader's rejections after the last block

    async def aapply(self, blocks: AsyncIterable[Block]) -> AsyncIterator[Block]:
        async for block in blocks:
            kept = self.block(block)
            if kept is not None:
                yield kept
        self.release()

    def drop(self, blocks: Iterable[Block]) -> Iterator[Block]:
        """``blocks`` read again without the positions rejected here or by a run before."""
        known, rejected, screened = self.known, self.rejected, self.screened
        for block in blocks:
            if not known and not rejected and not screened:
                yield block
                continue
            keep = [k for k, p in enumerate(block.positions)
                    if p not in rejected and p not in known and p not in screened]
            if len(keep) == len(block):
                yield block
            elif keep:
                yield block.subset(keep)


def _slices(numbers: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(numbers)
    while batch := list(islice(it, size)):
        yield batch


def _position(rejection: Rejection) -> int:
    return rejection.index


