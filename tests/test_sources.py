"""Where a run's recipients come from: a file read from the top or from a journaled offset
(what a resume settled left out), stdin and iterables read from the top, a chunk read again
to the same bytes, and how much of a file has been read."""

from __future__ import annotations

import gzip
import io
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.batching.chunker import Chunk, Chunker
from engine.core.holdings import Holdings
from engine.core.rejections import DUPLICATE, INVALID_NUMBER, Rejection
from engine.errors import InputError
from engine.reading import BLOCK_SIZE, ReadOptions
from engine.run.inputs import input_identity, open_input
from engine.run.journal import ChunkEntry
from engine.run.recorder import Recorder
from engine.run.resume import ResumePlan
from engine.run.sources import (
    ReadStopped,
    chunks_of,
    filtered_sink,
    identity,
    in_flight,
    is_path,
    read_file_from,
    rebuilder,
    share_of,
)
from tests.fakes import SENDER

NUMBERS = [f"+1415555{k:04d}" for k in range(40)]
MAX_BYTES = 300  # a few chunks of the forty


def write_list(tmp_path: Path, numbers: list[str] = NUMBERS) -> Path:
    path = tmp_path / "list.csv"
    path.write_text("to\n" + "".join(f"{n}\n" for n in numbers))
    return path


def options_for(path: Path | str, **changes: Any) -> ReadOptions:
    return ReadOptions(source=str(path), batch_text="Hi", **changes)


def chunker() -> Chunker:
    return Chunker(SENDER, "Hi", MAX_BYTES)


def numbers_in(chunks: list[Chunk]) -> list[str]:
    return [m["to"][0] for c in chunks for m in orjson.loads(c.data)["messages"]]


def plan(skip: list[tuple[int, int]], read_from: dict[str, Any] | None = None,
         in_flight: list[dict[str, Any]] | None = None, **more: Any) -> ResumePlan:
    return ResumePlan(records={}, in_flight=in_flight or [], holdings=Holdings.of_ranges(skip),
                      read_from=read_from,
                      next_number=1, max_bytes=None, **more)


def all_chunks(path: Path, **changes: Any) -> list[Chunk]:
    with ExitStack() as stack:
        made, _ = chunks_of(path, options_for(path, **changes), chunker(), lambda r: None,
                            stack)
        assert isinstance(made, Iterator)
        return list(made)


def entry_of(chunk: Chunk) -> dict[str, Any]:
    """The journal's chunk entry for ``chunk``, as the recorder writes it."""
    line = chunk.index.locate(1)[1]
    return ChunkEntry(chunk.number, chunk.first_position, chunk.last_position, chunk.count,
                      chunk.size, chunk.start_offset, line).to_json()


def test_only_a_file_is_a_path_that_can_be_read_again(tmp_path: Path) -> None:
    """A file (str or Path) is; stdin, a FIFO, a list and an async source are not."""
    path = write_list(tmp_path)
    fifo = tmp_path / "list.fifo"
    os.mkfifo(fifo)
    assert (is_path(str(path)), is_path(path)) == (True, True)
    assert (is_path("-"), is_path(str(fifo)), is_path(NUMBERS)) == (False, False, False)


def test_the_identity_is_taken_before_the_login_and_refuses_a_missing_file(
        tmp_path: Path) -> None:
    """A file's identity is inputs.input_identity; a stream's says so; a missing file is an
    InputError here, before any request."""
    path = write_list(tmp_path)
    assert identity(path, options_for(path)) == input_identity(str(path))
    assert identity(NUMBERS, options_for("<list>")) == {"kind": "stream"}
    missing = tmp_path / "missing.csv"
    with pytest.raises(InputError, match="no such file"):
        identity(missing, options_for(missing))


def test_a_file_is_cut_whole_and_its_share_read_goes_to_one(tmp_path: Path) -> None:
    """Every number once, in order, over several chunks; the share read is 0 before and 1
    once the last chunk is cut."""
    path = write_list(tmp_path)
    with ExitStack() as stack:
        made, share = chunks_of(path, options_for(path), chunker(), lambda r: None, stack)
        assert isinstance(made, Iterator)
        assert share() == 0.0
        chunks = list(made)
        assert share() == 1.0
    assert len(chunks) > 2
    assert numbers_in(chunks) == NUMBERS


def test_a_resumed_file_is_read_from_the_journaled_offset_without_the_settled_ranges(
        tmp_path: Path) -> None:
    """Resuming after chunk 1: reading starts at chunk 2's offset (a bad record before it is
    not found again) and the settled positions are left out."""
    numbers = [*NUMBERS[:3], "650-0", *NUMBERS[3:]]  # position 3 is bad
    path = write_list(tmp_path, numbers)
    first, second, *_ = all_chunks(path)
    assert first.last_position > 3  # the bad record lies in chunk 1's stretch of the file
    found: list[Rejection] = []
    with ExitStack() as stack:
        made, _ = chunks_of(path, options_for(path), chunker(), found.append, stack,
                            plan([(0, first.last_position)], entry_of(second)))
        assert isinstance(made, Iterator)
        rest = list(made)
    assert found == []
    assert numbers_in(rest) == [n for n in numbers[second.first_position:] if n != "650-0"]
    assert rest[0].first_position == second.first_position
    assert rest[0].start_offset == second.start_offset


@pytest.mark.parametrize("rule", ["number", "message"])
def test_a_resumed_dedupe_run_reads_from_the_top_so_earlier_numbers_still_count(
        tmp_path: Path, rule: str) -> None:
    """--dedupe: a number repeated after the offset is still a duplicate of one before it,
    because the reader starts at the top (settled positions are skipped all the same)."""
    numbers = [*NUMBERS[:20], NUMBERS[0]]  # the last repeats the first
    path = write_list(tmp_path, numbers)
    first, second, *_ = all_chunks(path, dedupe=rule)
    found: list[Rejection] = []
    with ExitStack() as stack:
        made, _ = chunks_of(path, options_for(path, dedupe=rule), chunker(), found.append,
                            stack, plan([(0, first.last_position)], entry_of(second)))
        assert isinstance(made, Iterator)
        rest = list(made)
    assert [(r.index, r.error_code) for r in found] == [(20, DUPLICATE)]
    assert numbers_in(rest) == numbers[second.first_position:20]


def test_stdin_is_read_from_the_top_and_skips_what_was_settled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """'-' cannot be sought: the list piped in again is read whole, the settled range left
    out; how much was read is unknown (None) for a pipe."""
    body = ("to\n" + "".join(f"{n}\n" for n in NUMBERS)).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(body)))
    with ExitStack() as stack:
        made, share = chunks_of("-", options_for("-"), chunker(), lambda r: None, stack,
                                plan([(0, 9)]))
        assert isinstance(made, Iterator)
        rest = list(made)
    assert numbers_in(rest) == NUMBERS[10:]
    assert share() is None


def test_a_list_is_cut_from_the_top_and_its_share_is_unknown() -> None:
    """A Python list: every number not settled, no share."""
    with ExitStack() as stack:
        made, share = chunks_of(NUMBERS, options_for("<list>"), chunker(), lambda r: None,
                                stack, plan([(5, 9)]))
        assert isinstance(made, Iterator)
        rest = list(made)
    assert numbers_in(rest) == NUMBERS[:5] + NUMBERS[10:]
    assert share() is None


async def test_an_async_source_is_cut_as_it_comes_without_the_settled_ranges() -> None:
    """An async iterable becomes async chunks, settled positions left out."""
    async def numbers() -> AsyncIterator[str]:
        for number in NUMBERS:
            yield number

    with ExitStack() as stack:
        made, share = chunks_of(numbers(), options_for("<async>"), chunker(), lambda r: None,
                                stack, plan([(0, 29)]))
        assert isinstance(made, AsyncIterator)
        rest = [chunk async for chunk in made]
    assert numbers_in(rest) == NUMBERS[30:]
    assert share() is None


def test_rejections_a_resume_finds_again_are_not_reported_twice() -> None:
    """Without a plan every rejection is kept; with one, those the journal already holds and
    those inside settled ranges are dropped."""
    def bad(index: int) -> Rejection:
        return Rejection(index, index + 2, "650-0", INVALID_NUMBER, "not a number")

    kept: list[Rejection] = []
    sink = filtered_sink(kept, None)
    for index in (1, 4, 7):
        sink(bad(index))
    assert [r.index for r in kept] == [1, 4, 7]
    kept.clear()
    sink = filtered_sink(kept, plan([(3, 5)], known_local=frozenset({7})))
    for index in (1, 4, 7, 9):
        sink(bad(index))
    assert [r.index for r in kept] == [1, 9]


async def test_a_chunk_is_read_again_to_the_same_bytes_from_where_it_began(
        tmp_path: Path) -> None:
    """The rebuilder reads chunk 2 from its recorded offset: the body it makes is the body
    that was cut, so a chunk waiting on a lost answer need not hold it."""
    path = write_list(tmp_path)
    chunks = all_chunks(path)
    recorder = Recorder(_ignore)
    for chunk in chunks:
        recorder.record_for(chunk)
    rebuild = rebuilder(str(path), options_for(path), SENDER, "Hi", recorder)
    again = await rebuild(2)
    assert bytes(again.body) == bytes(chunks[1].body)
    assert (again.number, again.first_position, again.count) == \
        (2, chunks[1].first_position, chunks[1].count)


def test_chunks_caught_mid_request_are_rebuilt_from_a_file_and_passed_on_otherwise(
        tmp_path: Path) -> None:
    """A stop left chunk 2 in flight: from a file it is read again to the same body; from a
    source that cannot be read again its journal entry comes back as it is."""
    path = write_list(tmp_path)
    chunks = all_chunks(path)
    entry = entry_of(chunks[1])
    with ExitStack() as stack:
        assert in_flight(path, options_for(path), None, SENDER, "Hi", stack) == []
        (rebuilt,) = in_flight(path, options_for(path), plan([], in_flight=[entry]),
                               SENDER, "Hi", stack)
        (passed,) = in_flight(NUMBERS, options_for("<list>"), plan([], in_flight=[entry]),
                              SENDER, "Hi", stack)
    assert isinstance(rebuilt, Chunk)
    assert bytes(rebuilt.body) == bytes(chunks[1].body)
    assert passed == entry


def test_the_share_of_a_file_follows_its_reading_and_is_unknown_for_gzip(
        tmp_path: Path) -> None:
    """tell() over the size for a plain file; a .gz's size says nothing of its text."""
    path = write_list(tmp_path)
    size = path.stat().st_size
    with path.open("rb") as handle:
        share = share_of(handle)
        handle.read(size // 4)
        assert share() == pytest.approx((size // 4) / size)
    packed = tmp_path / "list.csv.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    with open_input(str(packed)) as handle:  # a GzipFile, as the run opens it
        assert share_of(handle)() is None


def test_reading_a_file_from_no_entry_starts_at_the_top(tmp_path: Path) -> None:
    """read_file_from without an entry (or one with no offset: a chunk cut from stdin) reads
    every record."""
    path = write_list(tmp_path)
    for entry in (None, {"offset": None}):
        with ExitStack() as stack:
            _, blocks = read_file_from(str(path), options_for(path), lambda r: None, entry,
                                       stack)
            assert [to for b in blocks for to in b.tos] == NUMBERS


async def _ignore(event: Any) -> None:
    return None


def test_a_stop_ends_the_chunks_between_two_blocks_without_cutting_a_partial_chunk() -> None:
    """Asked before each block is read, a stop ends the chunks with ReadStopped: the block
    read before it is never cut into a chunk (nothing partly read can be POSTed)."""
    asked: list[bool] = []

    def stopped() -> bool:  # False before the first block, True before the second
        asked.append(len(asked) > 0)
        return asked[-1]

    numbers = [f"+1415555{i % 10_000:04d}" for i in range(3 * BLOCK_SIZE)]
    with ExitStack() as stack:
        chunks, _ = chunks_of(numbers, ReadOptions(batch_text="Hi"),
                              Chunker("+16505550100", "Hi", 50_000_000), lambda r: None, stack,
                              stopped=stopped)
        assert isinstance(chunks, Iterator)
        with pytest.raises(ReadStopped):
            next(chunks)
    assert asked == [False, True]
