"""Where a run's recipients come from: choosing the reader for a path, stdin or an iterable,
reading a file again from a journaled offset (resume, a lost answer's chunk), and how much of
it has been read. Opening an input is ``engine.run.inputs.open_input``."""

from __future__ import annotations

import gzip
import os
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, BinaryIO

from engine.batching.chunker import Chunk, Chunker
from engine.core.holdings import Holdings
from engine.core.rejections import Rejection
from engine.reading import Block, ReadOptions, StartAt, aread_items, read_items, read_lines
from engine.reading.linesource import MAX_LINE_BYTES
from engine.run.inputcheck import InputCheck
from engine.run.inputs import input_identity, is_stream, open_input
from engine.run.resume import (
    ResumePlan,
    covered,
    others,
    rebuild_chunk,
    without,
)

if TYPE_CHECKING:
    from engine.run.gate import Gate
    from engine.run.localqueue import LocalRejections
    from engine.run.recorder import Recorder
    from engine.run.sender import Chunks


Recipients = str | os.PathLike[str] | Iterable[Any] | AsyncIterable[Any]
Share = Callable[[], float | None]
Stopped = Callable[[], bool]
Narrow = Callable[[Iterable[Block]], Iterable[Block]]


class ReadStopped(Exception):  # not an error: how a stop reaches the sender
    """The run was stopped: the reader ended between two blocks, before any chunk was cut
    of what it had read since the last one (a 50 MB chunk of a slow stdin takes minutes to
    fill; the stop is heard within one block, at most 8,192 lines or about 4 MiB)."""


def is_path(recipients: Recipients) -> bool:
    """A file that can be read again (not stdin, a pipe or an iterable)."""
    return isinstance(recipients, str | os.PathLike) and not is_stream(str(recipients))


def identity(recipients: Recipients, options: ReadOptions) -> dict[str, Any]:
    """The input's identity for the journal, taken before anything is read; a missing file
    is an InputError here, before the login."""
    if not is_path(recipients):
        return {"kind": "stream"}
    with open_input(options.source):
        pass
    return input_identity(options.source)


def read_file_from(path: str, options: ReadOptions, sink: Callable[[Rejection], None],
                   entry: dict[str, Any] | None, stack: ExitStack
                   ) -> tuple[BinaryIO, Iterator[Block]]:
    """A file's blocks from the record a journal entry starts at (or from the top)."""
    stream = stack.enter_context(open_input(path))
    if entry is None or entry.get("offset") is None:
        return stream, read_lines(stream, options, sink)
    header = stream.readline(MAX_LINE_BYTES + 1)  # as a first read sees a line too long
    stream.seek(entry["offset"])
    start = StartAt(header, entry["offset"], entry["firstIndex"], entry["line"])
    return stream, read_lines(stream, options, sink, start)


def chunks_of(recipients: Recipients, options: ReadOptions, chunker: Chunker,
              sink: Callable[[Rejection], None], stack: ExitStack,
              plan: ResumePlan | None = None, local: LocalRejections | None = None,
              gate: Gate | None = None, stopped: Stopped | None = None,
              eligible: Narrow | None = None, quota: Narrow | None = None
              ) -> tuple[Chunks, Share]:
    """The chunks of the input (what a resumed run already settled left out), and how much
    of it has been read. ``local``: where ``sink`` puts rejections, held back until a resumed
    run's input is proven the one it read. ``gate``: the consent records' (engine/run/
    consent.py), applied to what is left to send; a resume first drops what a gate rejected
    before, so the chunks it skips are compared as they were cut. ``stopped``: asked before
    each block is read (in the reader's thread); once True, the chunks end in ReadStopped.
    ``eligible`` and ``quota``: a scheduled round's (engine/run/scheduling.py), before and
    after the gate; a file only (a round reads the input again)."""
    skip = plan.holdings if plan is not None else Holdings()
    drop = gate.drop if gate is not None and plan is not None else _same
    gated = gate.apply if gate is not None else _same
    if eligible is not None or quota is not None:
        if not is_path(recipients):
            raise ValueError("a scheduled round reads a file (its input is read each round)")
        narrow, cap = eligible or _same, quota or _same

        def apply(blocks: Iterable[Block]) -> Iterable[Block]:
            return cap(gated(narrow(blocks)))
    else:
        apply = gated
    if is_path(recipients):
        # a --dedupe run reads from the top, so its seen-set holds every earlier number
        entry = plan.read_from if plan is not None and not options.dedupe else None
        stream, blocks = read_file_from(str(recipients), options, sink, entry, stack)
        blocks = _until(blocks, stopped)
        check = _check(plan, entry["firstIndex"] if entry and entry.get("offset") is not None
                       else 0, local)
        return _checked(chunker.chunks(apply(without(_checking(drop(blocks), check), skip)
                                             if skip else drop(blocks))), check), \
            share_of(stream)
    check = _check(plan, 0, local)
    if isinstance(recipients, str | os.PathLike):  # "-": stdin, read from the top
        stream = stack.enter_context(open_input(str(recipients)))
        piped = _checking(drop(_until(read_lines(stream, options, sink), stopped)), check)
        return _checked(chunker.chunks(apply(without(piped, skip))), check), share_of(stream)
    if isinstance(recipients, AsyncIterable):
        pause = local.hand_on if local is not None else None
        ablocks = _awithout(aread_items(recipients, options, sink, pause), skip, check,
                            drop, stopped)
        return _achecked(chunker.achunks(gate.aapply(ablocks) if gate is not None
                                         else ablocks), check), _unknown_share
    items = _checking(drop(_until(read_items(recipients, options, sink), stopped)), check)
    return _checked(chunker.chunks(apply(without(items, skip))), check), _unknown_share


def _same(blocks: Iterable[Block]) -> Iterable[Block]:
    return blocks


def _until(blocks: Iterable[Block], stopped: Stopped | None) -> Iterator[Block]:
    """The blocks until ``stopped()``, asked before each is read: then ReadStopped, so the
    chunker never cuts (and nothing POSTs) a chunk of a read the stop cut short."""
    if stopped is None:
        return iter(blocks)
    return _until_stopped(iter(blocks), stopped)


def _until_stopped(blocks: Iterator[Block], stopped: Stopped) -> Iterator[Block]:
    while not stopped():
        block = next(blocks, None)
        if block is None:
            return
        yield block
    raise ReadStopped


def _check(plan: ResumePlan | None, start: int, local: LocalRejections | None = None
           ) -> InputCheck | None:
    check = InputCheck(plan, start) if plan is not None and plan.digests else None
    if check is not None and local is not None:
        local.hold_until(lambda: check.done)
    return check


def _checking(blocks: Iterable[Block], check: InputCheck | None) -> Iterable[Block]:
    """The blocks, each checked against the chunks a resume skips (InputCheck)."""
    if check is None:
        return blocks
    return _checked_blocks(blocks, check)


def _checked_blocks(blocks: Iterable[Block], check: InputCheck) -> Iterator[Block]:
    for block in blocks:
        check.block(block)
        yield block
    check.finish()


def _checked(chunks: Iterator[Chunk], check: InputCheck | None) -> Iterator[Chunk]:
    """The chunks, none handed on before the input was found to be the one the run read:
    those cut before the check is done wait (only the records never sent between skipped
    chunks)."""
    if check is None:
        yield from chunks
        return
    waiting: list[Chunk] = []
    for chunk in chunks:
        waiting.append(chunk)
        if check.done:
            yield from waiting
            waiting.clear()
    yield from waiting


async def _achecked(chunks: AsyncIterator[Chunk], check: InputCheck | None
                    ) -> AsyncIterator[Chunk]:
    waiting: list[Chunk] = []
    async for chunk in chunks:
        waiting.append(chunk)
        if check is None or check.done:
            for ready in waiting:
                yield ready
            waiting.clear()
    for ready in waiting:
        yield ready


def _unknown_share() -> float | None:
    return None


async def _awithout(blocks: AsyncIterator[Block], skip: Holdings,
                    check: InputCheck | None = None,
                    drop: Callable[[Iterable[Block]], Iterable[Block]] = _same,
                    stopped: Stopped | None = None) -> AsyncIterator[Block]:
    async for read in blocks:
        if stopped is not None and stopped():
            raise ReadStopped
        for block in drop([read]):
            if check is not None:
                check.block(block)
            for kept in without([block], skip):
                yield kept
    if check is not None:
        check.finish()


def filtered_sink(local: LocalRejections | list[Rejection], plan: ResumePlan | None
                  ) -> Callable[[Rejection], None]:
    """Where the reader puts local rejections; those a resumed read finds again are
    already in the journal."""
    if plan is None:
        return local.append
    known = plan.known_local  # compact (journal positions): not copied into a set

    def sink(rejection: Rejection) -> None:
        if rejection.index not in known and not covered(plan.holdings, rejection.index):
            local.append(rejection)

    return sink


def in_flight(recipients: Recipients, options: ReadOptions, plan: ResumePlan | None,
              sender: str, text: str | None, stack: ExitStack, gate: Gate | None = None
              ) -> list[Chunk | dict[str, Any]]:
    """Chunks caught mid-request by the stop, rebuilt from the input so they can be
    reconciled; entries that cannot be rebuilt (not a file) come back as they are."""
    if plan is None:
        return []
    out: list[Chunk | dict[str, Any]] = []
    for entry in plan.in_flight:
        if not is_path(recipients):
            out.append(entry)
            continue
        start = None if options.dedupe else entry  # dedupe needs every earlier number
        _, blocks = read_file_from(str(recipients), options, lambda r: None, start, stack)
        if gate is not None:  # without what a gate rejected when the chunk was cut
            blocks = gate.drop(blocks)
        out.append(rebuild_chunk(blocks, entry, sender, text, others(plan.records, entry)))
    return out


def rebuilder(path: str, options: ReadOptions, sender: str, text: str | None,
              recorder: Recorder, gate: Gate | None = None
              ) -> Callable[[int], Awaitable[Chunk]]:
    """Reads a chunk of a file again from where it began, so a chunk waiting on a lost
    answer holds no body."""
    async def rebuild(number: int) -> Chunk:
        record = recorder.records[number]
        offset, line = recorder.origin(number)
        entry = {"chunk": number, "firstIndex": record.first, "lastIndex": record.last,
                 "messages": record.count, "offset": offset, "line": line}
        # known: exactly its own records are read again; else around the other chunks
        held = recorder.members(number) or others(recorder.records, entry)

        def build() -> Chunk:
            with ExitStack() as stack:
                _, blocks = read_file_from(path, options, lambda r: None, entry, stack)
                if gate is not None:  # without the recipients the gate took out
                    blocks = gate.drop(blocks)
                return rebuild_chunk(blocks, entry, sender, text, held)

        import anyio  # here, not at the top: a plan never sends, so never loads it

        return await anyio.to_thread.run_sync(build)

    return rebuild


def share_of(stream: BinaryIO) -> Share:
    """How much of a regular, uncompressed file has been read: tell() costs nothing per
    line."""
    try:
        size = os.fstat(stream.fileno()).st_size if stream.seekable() else 0
    except (OSError, ValueError):
        size = 0
    if not size or isinstance(stream, gzip.GzipFile):
        return _unknown_share
    return lambda: min(1.0, stream.tell() / size)
