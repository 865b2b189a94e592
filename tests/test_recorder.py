"""The recorder, the one owner of a run's chunk records: every change is in the journal
(fsync'd) before the world hears of it, and a run that never sends leaves no journal."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from engine.batching.chunker import Chunk, Chunker
from engine.core import lifecycle
from engine.core.lifecycle import Reason
from engine.core.rejections import INVALID_NUMBER, Rejection
from engine.errors import IllegalTransition
from engine.reading import Block
from engine.run.events import ChunkFailed, Event, Rejected
from engine.run.journal import Journal, read_journal
from engine.run.recorder import Recorder
from tests.fakes import SENDER

HEADER = {"input": {"kind": "stream"}}


def bad(index: int) -> Rejection:
    return Rejection(index, index + 2, "650-0", INVALID_NUMBER, f"record {index} is not a number")


def chunk_of(n: int, first: int = 0) -> Chunk:
    """One chunk of n numbers at input positions first.. (no byte offset: an iterable)."""
    tos = [f"+1415555{k:04d}" for k in range(first, first + n)]
    (made,) = Chunker(SENDER, "Hi", 10_000).chunks(
        [Block(tos=tos, positions=list(range(first, first + n)))])
    return made


class Run:
    """A recorder whose journal is opened on demand at ``path``, and the events it told,
    each with the journal's lines as they were when it was told."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.opened = 0
        self.told: list[tuple[Event, list[dict[str, object]]]] = []
        self.recorder = Recorder(self.emit, open_journal=self.open)

    def open(self) -> Journal:
        self.opened += 1
        return Journal.create(self.path, HEADER)

    async def emit(self, event: Event) -> None:
        self.told.append((event, self.lines()))

    def lines(self) -> list[dict[str, object]]:
        if not self.path.exists():
            return []
        return [orjson.loads(line) for line in self.path.read_bytes().splitlines()]

    def types(self) -> list[object]:
        return [entry["type"] for entry in self.lines()]


async def test_a_run_that_sends_nothing_leaves_no_journal(tmp_path: Path) -> None:
    """Local rejections alone do not open the journal (a refused login or --strict leaves
    nothing that blocks the same command); they are counted and told all the same."""
    run = Run(tmp_path / "run.journal")
    await run.recorder.local([bad(0), bad(3)])
    assert run.opened == 0
    assert not run.path.exists()
    assert run.recorder.aggregator.rejected_local == 2
    assert [e for e, _ in run.told] == [Rejected.of(bad(0)), Rejected.of(bad(3))]


async def test_the_first_chunk_opens_the_journal_with_what_was_held_before_it(
        tmp_path: Path) -> None:
    """The rejections found before the first chunk are written first, then the chunk's
    range, so the journal tells them all in the order they happened."""
    run = Run(tmp_path / "run.journal")
    await run.recorder.local([bad(0)])
    chunk = chunk_of(3, first=1)
    record = run.recorder.record_for(chunk)
    run.recorder.close()
    assert run.opened == 1
    assert run.types() == ["run", "local", "chunk"]
    state = read_journal(run.path)
    assert list(state.local) == [0]
    assert state.chunks[1] == {"type": "chunk", "chunk": 1, "firstIndex": 1, "lastIndex": 3,
                               "messages": 3, "bytes": record.bytes, "offset": None,
                               "line": None, "status": lifecycle.PLANNED,
                               "digest": chunk.digest}
    assert (record.first, record.last, record.count) == (1, 3, 3)


async def test_a_run_whose_records_were_all_rejected_keeps_its_journal(tmp_path: Path) -> None:
    """keep_journal at the end of a run without chunks writes what was held, so
    `a2p outcomes` has the run's rejections."""
    run = Run(tmp_path / "run.journal")
    await run.recorder.local([bad(0), bad(1)])
    run.recorder.keep_journal()
    run.recorder.close()
    assert run.types() == ["run", "local"]
    assert sorted(read_journal(run.path).local) == [0, 1]


async def test_rejections_are_in_the_journal_before_they_are_told(tmp_path: Path) -> None:
    """Once the journal is open, each rejection event is emitted after its entry is on disk."""
    run = Run(tmp_path / "run.journal")
    run.recorder.record_for(chunk_of(2))
    await run.recorder.local([bad(5)])
    run.recorder.close()
    ((event, journal_then),) = run.told
    assert event == Rejected.of(bad(5))
    assert [e["type"] for e in journal_then] == ["run", "chunk", "local"]


def test_a_move_is_journaled_with_its_reason_and_note(tmp_path: Path) -> None:
    """recorder.move changes the state through the lifecycle table and writes the whole
    record; reason and note replace the record's, and extra fields go into the entry."""
    journal = Journal.create(tmp_path / "run.journal", HEADER)
    recorder = Recorder(_ignore, journal=journal)
    record = recorder.record_for(chunk_of(4))
    recorder.move(record, lifecycle.SUBMITTING)
    recorder.move(record, lifecycle.FAILED, Reason.GAVE_UP, "gave up after 3 attempts",
                  limit=123)
    recorder.close()
    assert (record.state, record.reason, record.note) == \
        (lifecycle.FAILED, Reason.GAVE_UP, "gave up after 3 attempts")
    entries = [orjson.loads(line) for line in (tmp_path / "run.journal").read_bytes()
               .splitlines()]
    assert [(e["type"], e.get("status")) for e in entries] == \
        [("run", None), ("chunk", None), ("state", "submitting"), ("state", "failed")]
    assert entries[-1]["limit"] == 123
    assert entries[-1]["note"] == "gave up after 3 attempts"
    folded = read_journal(tmp_path / "run.journal").chunks[1]
    assert (folded["status"], folded["firstIndex"], folded["lastIndex"]) == ("failed", 0, 3)


def test_a_move_the_lifecycle_forbids_is_refused_and_not_journaled(tmp_path: Path) -> None:
    """A planned chunk cannot be completed: the move raises and the journal is unchanged."""
    journal = Journal.create(tmp_path / "run.journal", HEADER)
    recorder = Recorder(_ignore, journal=journal)
    record = recorder.record_for(chunk_of(1))
    before = (tmp_path / "run.journal").read_bytes()
    with pytest.raises(IllegalTransition):
        recorder.move(record, lifecycle.COMPLETED)
    recorder.close()
    assert record.state == lifecycle.PLANNED
    assert (tmp_path / "run.journal").read_bytes() == before


def test_superseded_chunks_are_journaled_so_no_reader_counts_them_twice(
        tmp_path: Path) -> None:
    """A resumed run's re-cut chunks are marked superseded in the journal it appends to."""
    journal = Journal.create(tmp_path / "run.journal", HEADER)
    recorder = Recorder(_ignore, journal=journal)
    recorder.record_for(chunk_of(2))
    recorder.supersede([1])
    recorder.close()
    assert read_journal(tmp_path / "run.journal").chunks[1]["status"] == lifecycle.SUPERSEDED


async def test_a_failed_chunk_is_told_with_its_range_error_and_note() -> None:
    """chunk_failed carries the record's number, state, range, error and note."""
    told: list[Event] = []

    async def emit(event: Event) -> None:
        told.append(event)

    recorder = Recorder(emit)
    record = recorder.record_for(chunk_of(3, first=7))
    record.error = {"errorCode": "CMN-101", "message": "refused"}
    recorder.move(record, lifecycle.SUBMITTING)
    recorder.move(record, lifecycle.FAILED, note="check the sender")
    await recorder.failed(record)
    assert told == [ChunkFailed(1, lifecycle.FAILED, 7, 9,
                                {"errorCode": "CMN-101", "message": "refused"},
                                "check the sender")]


def test_records_are_read_only_outside_the_recorder_and_origins_are_kept() -> None:
    """Nothing else can add or replace a record; restore brings back a journal's records
    and where each began in the input."""
    recorder = Recorder(_ignore)
    record = recorder.record_for(chunk_of(2))
    with pytest.raises(TypeError):
        recorder.records[2] = record  # type: ignore[index]  # the point: it is read-only
    assert recorder.origin(1) == (None, None)  # an iterable: no offset, no line
    assert recorder.origin(9) == (None, None)  # unknown chunk
    recorder.restore({9: record}, {9: (1200, 40)})
    assert recorder.records[9] is record
    assert recorder.origin(9) == (1200, 40)


async def _ignore(event: Event) -> None:
    return None
