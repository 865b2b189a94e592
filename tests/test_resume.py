"""Resuming from a journal: what was settled stays settled, what may have been sent is looked
for again, what certainly was not is read and sent again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.batching.chunker import Chunker
from engine.core import lifecycle
from engine.core.holdings import Holdings, Members
from engine.core.lifecycle import Reason
from engine.core.policy import NO_ANSWER, NOT_SENT
from engine.core.rejections import Aggregator
from engine.errors import JournalError
from engine.reading import Block
from engine.run.inputs import input_identity
from engine.run.journal import ChunkEntry, Journal, read_journal, state_entry, superseded_entry
from engine.run.recorder import Recorder
from engine.run.report import ChunkRecord
from engine.run.resume import (
    ResumePlan,
    check_matches,
    others,
    rebuild_chunk,
    restore,
    without,
)
from engine.run.spill import FileSpill


def record(number: int, first: int, last: int, state: str, count: int | None = None,
           **fields: object) -> ChunkRecord:
    made = ChunkRecord(number, first, last, count or last - first + 1, 100, state=state)
    for name, value in fields.items():
        setattr(made, name, value)
    return made


def journal_of(tmp_path: Path, *records: ChunkRecord) -> Path:
    path = tmp_path / "run.journal"
    journal = Journal.create(path, {"runId": "r", "sender": "+16505550100"})
    for made in records:
        journal.write(ChunkEntry(made.number, made.first, made.last, made.count, made.bytes,
                                 made.first + 10, made.first + 2).to_json())
        journal.write(state_entry(made))
    journal.close()
    return path


def test_accepted_and_refused_chunks_are_skipped_and_in_flight_ones_reconciled(
        tmp_path: Path) -> None:
    """An accepted range is never read again; a chunk caught submitting is reconciled."""
    path = journal_of(tmp_path,
                      record(1, 0, 9, lifecycle.ACCEPTED, batch_id="b1"),
                      record(2, 10, 19, lifecycle.SUBMITTING),
                      record(3, 20, 29, lifecycle.FAILED, reason=Reason.REFUSED,
                             error={"status": 400, "errorCode": "CMN-101", "message": "x"}))
    aggregator = Aggregator()
    plan = restore(read_journal(path), aggregator)
    assert plan.skip == [(0, 9), (10, 19), (20, 29)]
    assert [e["chunk"] for e in plan.in_flight] == [2]
    assert plan.records[1].batch_id == "b1"
    assert aggregator.sent == 10
    assert plan.next_number == 3


def test_a_chunk_certainly_not_sent_is_read_again_from_its_offset(tmp_path: Path) -> None:
    """No connection (NOT-SENT) or a 429: the policy says resend, so it is planned again and
    the input is read from where it began."""
    path = journal_of(tmp_path,
                      record(1, 0, 9, lifecycle.ACCEPTED, batch_id="b1"),
                      record(2, 10, 19, lifecycle.FAILED, reason=Reason.GAVE_UP,
                             error={"errorCode": NOT_SENT, "message": "down"}),
                      record(3, 20, 29, lifecycle.FAILED, reason=Reason.GAVE_UP,
                             error={"status": 429, "errorCode": "CMN-301", "message": "x"}))
    plan = restore(read_journal(path), Aggregator())
    assert plan.skip == [(0, 9)]
    assert plan.read_from is not None
    assert plan.read_from["chunk"] == 2
    assert plan.read_from["offset"] == 20


def test_a_5xx_on_a_post_is_resent_only_after_reconciliation_proved_it_absent(
        tmp_path: Path) -> None:
    """A 502 or 503 may have created the batch: without proof it stays failed and skipped;
    with the proof journaled (reason proved-absent) it is sent again, whatever its last
    answer was or even with none recorded."""
    unproven = record(1, 0, 9, lifecycle.FAILED, reason=Reason.GAVE_UP,
                      error={"status": 502, "errorCode": "HTTP-502", "message": "x"})
    unproven_503 = record(2, 10, 19, lifecycle.FAILED, reason=Reason.GAVE_UP,
                          error={"status": 503, "errorCode": "CMN-211", "message": "x"})
    proven = record(3, 20, 29, lifecycle.FAILED, reason=Reason.PROVED_ABSENT,
                    error={"errorCode": NO_ANSWER, "message": "x"})
    proven_503 = record(4, 30, 39, lifecycle.FAILED, reason=Reason.PROVED_ABSENT,
                        error={"status": 503, "errorCode": "HTTP-503", "message": "x"})
    proven_bare = record(5, 40, 49, lifecycle.FAILED, reason=Reason.PROVED_ABSENT)
    plan = restore(read_journal(journal_of(tmp_path, unproven, unproven_503, proven,
                                           proven_503, proven_bare)), Aggregator())
    assert plan.skip == [(0, 9), (10, 19)]
    assert sorted(plan.records) == [1, 2]  # the proven ones are planned again
    assert plan.read_from is not None
    assert plan.read_from["chunk"] == 3


def test_an_unknown_left_by_a_failed_reconciliation_is_looked_for_again(
        tmp_path: Path) -> None:
    """Reasons not-reconciled and unreadable-answer reopen the chunk (unknown → ambiguous):
    its batch is looked for again; one not re-readable stays unknown."""
    path = journal_of(tmp_path,
                      record(1, 0, 9, lifecycle.UNKNOWN, reason=Reason.NOT_RECONCILED),
                      record(2, 10, 19, lifecycle.UNKNOWN, reason=Reason.UNREADABLE),
                      record(3, 20, 29, lifecycle.UNKNOWN, reason=Reason.NOT_REREADABLE))
    plan = restore(read_journal(path), Aggregator())
    assert plan.records[1].state == lifecycle.AMBIGUOUS
    assert plan.records[2].state == lifecycle.AMBIGUOUS
    assert plan.records[3].state == lifecycle.UNKNOWN
    assert [e["chunk"] for e in plan.in_flight] == [1, 2]


def test_a_record_round_trips_through_its_json() -> None:
    """What the journal writes of a record is what a resume reads back."""
    made = record(4, 5, 9, lifecycle.COMPLETED, batch_id="b", attempts=2, cost=0.01,
                  reason=Reason.ADOPTED, adopted=True, error_codes={"SMS-UP-410": 1})
    assert ChunkRecord.from_json(made.to_json()) == made


def test_a_pending_adopted_chunk_is_reopened_with_its_pending_recipients_not_counted_sent(
        tmp_path: Path) -> None:
    """Completed with 4 recipients pending: reopened to accepted so its store is read again,
    never resent; 6 counted sent, 4 pending, none rejected."""
    path = journal_of(tmp_path,
                      record(1, 0, 9, lifecycle.COMPLETED, batch_id="b1", adopted=True,
                             reason=Reason.PENDING, pending=4),
                      record(2, 10, 19, lifecycle.COMPLETED, batch_id="b2"))
    aggregator = Aggregator()
    plan = restore(read_journal(path), aggregator)
    assert plan.records[1].state == lifecycle.ACCEPTED
    assert plan.records[1].pending == 4
    assert plan.records[2].state == lifecycle.COMPLETED
    assert plan.skip == [(0, 9), (10, 19)]  # neither range is sent again
    assert plan.in_flight == []
    assert (aggregator.sent, aggregator.pending, aggregator.rejected_server) == (16, 4, 0)


def test_settling_a_pending_chunk_moves_its_count_to_sent_and_rejected() -> None:
    """The aggregator alone changes its counts: 4 pending become 3 sent and 1 rejected."""
    from engine.core.rejections import SERVER, Rejection

    aggregator = Aggregator()
    aggregator.restored(sent=6, pending=4)
    lost = Rejection(7, 9, "+14155550107", "A2P-CODE-LOST-WITH-ANSWER", "lost", "b1", SERVER)
    aggregator.recovered([lost], pending=0, was_pending=4)
    assert (aggregator.sent, aggregator.pending, aggregator.rejected_server) == (9, 0, 1)
    assert aggregator.rejections() == [lost]


def test_a_resume_supersedes_the_chunks_it_cuts_again_and_a_later_one_still_reads_them(
        tmp_path: Path) -> None:
    """A planned chunk and a chunk that certainly was not sent are listed as superseded (this
    resume cuts their records again); once journaled superseded, a later resume still reads
    the input from where the first of them began, so none of their records is lost."""
    path = journal_of(tmp_path,
                      record(1, 0, 9, lifecycle.PLANNED),
                      record(2, 10, 19, lifecycle.ACCEPTED, batch_id="b2"),
                      record(3, 20, 29, lifecycle.FAILED, reason=Reason.GAVE_UP,
                             error={"errorCode": NOT_SENT, "message": "down"}))
    plan = restore(read_journal(path), Aggregator())
    assert plan.superseded == [1, 3]
    assert plan.skip == [(10, 19)]
    journal = Journal.reopen(path, read_journal(path).complete_bytes)
    for number in plan.superseded:
        journal.write(superseded_entry(number))
    journal.close()
    state = read_journal(path)
    assert [state.chunks[n]["status"] for n in (1, 2, 3)] == [
        lifecycle.SUPERSEDED, lifecycle.ACCEPTED, lifecycle.SUPERSEDED]
    again = restore(state, Aggregator())
    assert again.superseded == []  # marked once
    assert again.read_from is not None
    assert again.read_from["chunk"] == 1
    assert again.skip == [(10, 19)]
    assert sorted(again.records) == [2]


def test_a_file_run_resumed_with_stdin_is_told_to_resume_alone(tmp_path: Path) -> None:
    """'a2p send - --resume J' on the journal of a file run: refused, saying the file is read
    again from the journal, not a confusing 'changed' message."""
    listing = tmp_path / "list.txt"
    listing.write_text("+14155550100\n")
    header = {"runId": "r", "sender": "+16505550100", "text": "Hi", "template": None,
              "input": input_identity(str(listing))}
    path = tmp_path / "run.journal"
    Journal.create(path, header).close()
    with pytest.raises(JournalError, match="--resume alone"):
        check_matches(read_journal(path), "-", "+16505550100", "Hi", None)
    check_matches(read_journal(path), str(listing), "+16505550100", "Hi", None)  # the same


# A resumed chunk that spans chunks it skipped (review of i18, F1 and F3) -------------------

def spanning_journal(path: Path, later: list[ChunkRecord], *, gaps: bool = False,
                     held: ChunkRecord | None = None) -> Path:
    """Run 1 (killed): 4 [0,99], 5 [100,199], 7 [300,399] planned and 6 [200,299] as
    ``held`` says (in flight, then adopted: accepted). Run 2 superseded 4, 5, 7 and cut
    ``later`` from 0..399 around 6's range; ``gaps``: journaled as this version does."""
    journal = Journal.create(path, {"runId": "r", "sender": "+16505550100"})
    six = held or record(6, 200, 299, lifecycle.ACCEPTED, batch_id="b6", batch_size=100)
    for made in (record(4, 0, 99, lifecycle.PLANNED), record(5, 100, 199, lifecycle.PLANNED),
                 six, record(7, 300, 399, lifecycle.PLANNED)):
        journal.write(ChunkEntry(made.number, made.first, made.last, made.count, made.bytes,
                                 made.first * 10, made.first + 2).to_json())
        journal.write(state_entry(made))
    for number in (4, 5, 7):
        journal.write(superseded_entry(number))
    for made in later:
        spans = made.first < 200 and made.last > 299
        journal.write(ChunkEntry(made.number, made.first, made.last, made.count, made.bytes,
                                 made.first * 10, made.first + 2,
                                 ((200, 299),) if gaps and spans else (),
                                 "d" if gaps else None).to_json())
        journal.write(state_entry(made))
    journal.close()
    return path


def reread(plan: ResumePlan) -> list[int]:
    block = Block([f"+1415555{p:04d}" for p in range(400)], None, range(400))
    return [p for b in without([block], plan.holdings) for p in b.positions]


RUN_2 = [record(12, 0, 150, lifecycle.FAILED, reason=Reason.GAVE_UP,
                error={"status": 429, "errorCode": "CMN-301", "message": "x"}),
         record(13, 151, 350, lifecycle.ACCEPTED, count=100, batch_id="b13", batch_size=100),
         record(14, 351, 399, lifecycle.ACCEPTED, batch_id="b14", batch_size=49)]


@pytest.mark.parametrize("gaps", [False, True], ids=["i18-journal", "gaps-journaled"])
def test_records_a_spanning_chunk_sent_are_not_read_again(tmp_path: Path, gaps: bool) -> None:
    """Chunk 13 (151..199 and 300..350) spans adopted chunk 6: the next resume reads
    again only what chunk 12 (gave up on 429) held, never a record 13 or 6 sent."""
    path = spanning_journal(tmp_path / "run.journal", RUN_2, gaps=gaps)
    plan = restore(read_journal(path), Aggregator())
    assert reread(plan) == list(range(0, 151))
    assert plan.read_from is not None
    assert plan.read_from["chunk"] == 4


@pytest.mark.parametrize("gaps", [False, True], ids=["i18-journal", "gaps-journaled"])
def test_a_held_chunk_inside_a_spanning_chunk_is_read_again(tmp_path: Path,
                                                            gaps: bool) -> None:
    """Run 2 recovered chunk 6, proved it absent and was stopped before the resend (held,
    planned again); chunk 13, cut around 6's range, was accepted: the next resume sends
    6's records, and only those."""
    later = [record(13, 100, 399, lifecycle.ACCEPTED, count=200, batch_id="b13",
                    batch_size=200)]
    path = spanning_journal(tmp_path / "run.journal", later, gaps=gaps,
                            held=record(6, 200, 299, lifecycle.PLANNED, reason=Reason.HELD))
    plan = restore(read_journal(path), Aggregator())
    assert [p for p in reread(plan) if p >= 100] == list(range(200, 300))
    assert 6 in plan.superseded


def test_a_resume_after_everything_was_accepted_reads_nothing_again(tmp_path: Path) -> None:
    """Every chunk of run 2 completed (run 3 only settles a pending one): nothing is read
    again, and reading starts at the last chunk, not at superseded chunk 4."""
    later = [record(12, 0, 150, lifecycle.COMPLETED, batch_id="b12", batch_size=151),
             record(13, 151, 350, lifecycle.COMPLETED, count=100, batch_id="b13",
                    batch_size=100),
             record(14, 351, 399, lifecycle.COMPLETED, batch_id="b14", batch_size=49)]
    path = spanning_journal(tmp_path / "run.journal", later,
                            held=record(6, 200, 299, lifecycle.COMPLETED, batch_id="b6"))
    plan = restore(read_journal(path), Aggregator())
    assert reread(plan) == []
    assert plan.skip == [(0, 150), (151, 199), (200, 299), (300, 350), (351, 399)]  # disjoint
    assert plan.read_from is not None
    assert plan.read_from["chunk"] == 14


def test_a_chunk_cut_around_skipped_ranges_journals_them_as_its_gaps(tmp_path: Path) -> None:
    """The recorder of a resumed run writes, for a chunk spanning skipped chunks, exactly
    the skipped ranges inside it (not the records rejected locally between its own)."""
    path = tmp_path / "run.journal"
    journal = Journal.create(path, {"runId": "r", "sender": "+16505550100"})
    recorder = Recorder(_no_emit, journal=journal)
    recorder.restore({}, {}, Holdings.of_ranges([(10, 19), (30, 39)]))
    positions = [p for p in range(0, 50) if not 10 <= p <= 19 and not 30 <= p <= 39
                 and p != 25]  # 25: rejected locally
    chunker = Chunker("+16505550100", "Hi", 1 << 20)
    (chunk,) = chunker.chunks([Block([f"+1415555{p:04d}" for p in positions], None,
                                     positions)])
    recorder.record_for(chunk)
    journal.close()
    entry = read_journal(path).chunks[chunk.number]
    assert entry["gaps"] == [[10, 19], [30, 39]]
    assert entry["digest"] == chunk.digest != ""


def _no_emit(event: object) -> Any:
    raise AssertionError("nothing is emitted")


def test_a_chunk_read_again_inside_a_spanning_chunks_gap_keeps_its_own_records() -> None:
    """A chunk cut from the gap of a chunk that spans it (6's records, re-cut as 20 inside
    13's range) is read again (lost answer, in-flight at a crash) with its own positions:
    its journaled gaps, not the ranges of the chunks around it."""
    records = {13: record(13, 100, 399, lifecycle.ACCEPTED, count=200, batch_id="b13")}
    entry = ChunkEntry(20, 200, 299, 100, 100, None, None, (), "d").to_json()
    assert others(records, entry) == Members(200, 299)
    i18 = ChunkEntry(20, 200, 299, 100, 100, None, None).to_json()  # no gaps journaled
    assert list(others(records, i18).runs()) == []  # 13's range covers it all
    rebuilt = rebuild_chunk([Block([f"+1415555{p:04d}" for p in range(400)], None,
                                   range(400))], entry, "+16505550100", "Hi",
                            others(records, entry))
    assert (rebuilt.first_position, rebuilt.last_position, rebuilt.count) == (200, 299, 100)


def test_the_recorder_knows_the_gaps_of_chunks_it_cut_and_of_those_journaled() -> None:
    """What the lost-answer rebuild reads again: gaps of a chunk cut now, of one restored
    from a journal that has them, and None (fall back) for one that has not."""
    recorder = Recorder(_no_emit)
    recorder.restore({}, {}, Holdings.of_ranges([(10, 19)]), {7: Members(0, 9, ((3, 4),))})
    positions = [p for p in range(30) if not 10 <= p <= 19]
    (chunk,) = Chunker("+16505550100", "Hi", 1 << 20).chunks(
        [Block([f"+1415555{p:04d}" for p in positions], None, positions)])
    recorder.record_for(chunk)
    assert recorder.members(chunk.number) == Members(0, 29, ((10, 19),))
    assert recorder.members(7) == Members(0, 9, ((3, 4),))
    assert recorder.members(8) is None


def test_a_chunks_server_rejections_restored_in_any_answer_order_make_one_spill_run(
        tmp_path: Path) -> None:
    """A journal whose chunk lists its 500 server rejections last-first is restored into the
    spill as one sorted run (not 500 runs for the report's merge)."""
    made = record(1, 0, 999, lifecycle.ACCEPTED, batch_id="b1")
    path = tmp_path / "run.journal"
    journal = Journal.create(path, {"runId": "r", "sender": "+16505550100"})
    journal.write(ChunkEntry(1, 0, 999, 1000, 100, 10, 2).to_json())
    journal.write(state_entry(made, rejected=[
        {"index": k, "line": k + 2, "to": "+1", "errorCode": "SMS-CAR-411",
         "description": "x", "batchId": "b1", "source": "server"} for k in range(999, 499, -1)]))
    journal.close()
    with FileSpill(folder=tmp_path) as spill:
        aggregator = Aggregator(spill)
        restore(read_journal(path), aggregator)
        assert spill.runs == 1
        assert [index for index, _ in aggregator.merged()] == list(range(500, 1000))


def split_journal(tmp_path: Path, halves: list[ChunkRecord], *, on_the_line: bool
                  ) -> Path:
    """Chunk 1 (positions 0..99) split, chunks 2 and 3 after it accepted, and of the split's
    ``halves`` those given: on the split's line (as Recorder.split writes them), or each on
    a line of its own after it (as runs before it did: a kill could land between)."""
    path = journal_of(tmp_path, record(1, 0, 99, lifecycle.SUBMITTING),
                      record(2, 100, 199, lifecycle.ACCEPTED, batch_id="b2"),
                      record(3, 200, 299, lifecycle.ACCEPTED, batch_id="b3"))
    entries = [ChunkEntry(h.number, h.first, h.last, h.count, h.bytes,
                          10 if h.first == 0 else None, 2 if h.first == 0 else None,
                          digest="d").to_json() for h in halves]
    parent = record(1, 0, 99, lifecycle.SPLIT, reason=Reason.TOO_LARGE)
    journal = Journal.reopen(path, read_journal(path).complete_bytes)
    journal.write(state_entry(parent, halves=entries) if on_the_line else state_entry(parent))
    for entry, half in zip(entries, halves, strict=True):
        if not on_the_line:
            journal.write(entry)
        if half.state != lifecycle.PLANNED:
            journal.write(state_entry(half))
    journal.close()
    return path


@pytest.mark.parametrize("halves", [0, 1], ids=["no-half", "first-half-only"])
def test_a_split_chunk_whose_records_no_half_holds_is_read_again(tmp_path: Path,
                                                                  halves: int) -> None:
    """A journal killed between a split and its halves' lines (as runs before the halves rode
    on the split's line wrote it): the records no half holds are read again from the split
    chunk's offset, not left out as settled."""
    first = record(4, 0, 49, lifecycle.SUBMITTING)
    plan = restore(read_journal(split_journal(tmp_path, [first][:halves], on_the_line=False)),
                   Aggregator())
    assert plan.read_from is not None
    assert (plan.read_from["firstIndex"], plan.read_from["offset"]) == (0, 10)
    assert plan.skip == ([(0, 49)] if halves else []) + [(100, 199), (200, 299)]
    assert [e["chunk"] for e in plan.in_flight] == [4][:halves]


def test_a_splits_halves_on_its_line_stand_and_an_unsent_one_is_read_again(
        tmp_path: Path) -> None:
    """The split's line holds both halves: the first, in flight, is reconciled; the second,
    never sent, is superseded and read again from the nearest offset before it (the first
    half's, the chunk's own first record)."""
    path = split_journal(tmp_path, [record(4, 0, 49, lifecycle.SUBMITTING),
                                    record(5, 50, 99, lifecycle.PLANNED)], on_the_line=True)
    state = read_journal(path)
    assert [state.chunks[n]["status"] for n in (1, 4, 5)] == [
        lifecycle.SPLIT, lifecycle.SUBMITTING, lifecycle.PLANNED]
    assert "halves" not in state.chunks[1]
    plan = restore(state, Aggregator())
    assert plan.superseded == [5]
    assert [e["chunk"] for e in plan.in_flight] == [4]
    assert plan.skip == [(0, 49), (100, 199), (200, 299)]
    assert plan.read_from is not None
    assert (plan.read_from["firstIndex"], plan.read_from["offset"]) == (0, 10)


def test_a_split_whose_halves_both_stand_reads_nothing_again(tmp_path: Path) -> None:
    """Both halves accepted: the split chunk's records are settled, and reading goes on
    after the last chunk."""
    path = split_journal(tmp_path, [record(4, 0, 49, lifecycle.ACCEPTED, batch_id="b4"),
                                    record(5, 50, 99, lifecycle.ACCEPTED, batch_id="b5")],
                         on_the_line=True)
    plan = restore(read_journal(path), Aggregator())
    assert plan.skip == [(0, 49), (50, 99), (100, 199), (200, 299)]
    assert plan.read_from is not None
    assert plan.read_from["chunk"] == 3
