"""The journal: durable lines, a torn last line tolerated, anything else damaged refused."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from engine.errors import IllegalTransition, JournalError
from engine.run.journal import Journal, read_journal, superseded_entry
from engine.run.membership import standing


def write(path: Path) -> None:
    journal = Journal.create(path, {"runId": "r", "sender": "+16505550100"})
    journal.write({"type": "chunk", "chunk": 1, "first": 0, "last": 9, "count": 10,
                   "bytes": 300, "offset": 3, "line": 2})
    journal.write({"type": "state", "chunk": 1, "status": "submitting", "attempts": 1})
    journal.write({"type": "local", "rejected": [{"index": 10, "line": 12, "to": "x",
                                                  "errorCode": "LCL-INVALID-NUMBER",
                                                  "description": "bad"}]})
    journal.close()


def test_entries_fold_by_chunk(tmp_path: Path) -> None:
    """The last state of each chunk and every local rejection come back."""
    path = tmp_path / "j"
    write(path)
    state = read_journal(path)
    assert state.header["runId"] == "r"
    assert state.chunks[1]["status"] == "submitting"
    assert state.chunks[1]["offset"] == 3
    assert list(state.local) == [10]


def test_torn_last_line_is_dropped_and_truncated_on_reopen(tmp_path: Path) -> None:
    """Power lost mid-write: the partial line is ignored, and appending starts clean."""
    path = tmp_path / "j"
    write(path)
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"type": "state", "chunk": 1, "sta')
    state = read_journal(path)
    assert state.chunks[1]["status"] == "submitting"
    assert state.complete_bytes == len(whole)
    journal = Journal.reopen(path, state.complete_bytes)
    journal.write({"type": "state", "chunk": 1, "status": "accepted", "batchId": "b"})
    journal.close()
    assert read_journal(path).chunks[1]["status"] == "accepted"


def test_damaged_or_foreign_journals_are_refused(tmp_path: Path) -> None:
    """A broken middle line, a file that is no journal, or none at all: a clear refusal."""
    path = tmp_path / "j"
    write(path)
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join([lines[0], b"garbage", *lines[1:]]))
    with pytest.raises(JournalError, match="line 2: not a journal entry"):
        read_journal(path)
    path.write_bytes(b'{"hello": 1}\n')
    with pytest.raises(JournalError, match="not an a2p journal"):
        read_journal(path)
    with pytest.raises(JournalError, match="cannot read"):
        read_journal(tmp_path / "missing")


def test_an_existing_journal_is_never_overwritten(tmp_path: Path) -> None:
    """Creating a journal where one exists says to resume it instead."""
    path = tmp_path / "j"
    write(path)
    with pytest.raises(JournalError, match="--resume"):
        Journal.create(path, {})


def test_an_empty_journal_says_start_again_and_may_be_replaced(tmp_path: Path) -> None:
    """Killed before its header: resume says to start again, and starting again works."""
    path = tmp_path / "j"
    path.write_bytes(b"")
    with pytest.raises(JournalError, match="without --resume"):
        read_journal(path)
    Journal.create(path, {"runId": "again"}).close()
    assert read_journal(path).header["runId"] == "again"


def test_a_fifo_is_identified_as_a_stream_without_reading_it(tmp_path: Path) -> None:
    """A FIFO's identity is a stream: opening it to digest its head would block or eat data."""
    from engine.run.inputs import input_identity
    from tests.lists import fed_fifo


    with fed_fifo(tmp_path, b"+14155550100\n") as (fifo, rest):
        assert input_identity(str(fifo)) == {"kind": "stream"}
        assert rest() == b"+14155550100\n"  # still there for the reader


def test_a_rebuilt_chunk_with_other_recipients_of_the_same_count_is_refused() -> None:
    """A chunk read again must hold the same recipients and texts, not just as many."""
    from engine.core.reconcile import Expected
    from engine.run.resume import check_rebuilt

    sent = Expected.of("+16505550100", [("+14155550100", "Hi"), ("+14155550101", "Hi")])
    check_rebuilt(3, Expected.of("+16505550100", [("+14155550101", "Hi"),
                                                  ("+14155550100", "Hi")]), sent)
    with pytest.raises(JournalError, match="chunk 3: the input now gives other recipients"):
        check_rebuilt(3, Expected.of("+16505550100", [("+14155550100", "Hi"),
                                                      ("+14155550102", "Hi")]), sent)


def chunk(number: int, first: int, last: int, status: str, **more: object) -> dict[str, object]:
    return {"chunk": number, "firstIndex": first, "lastIndex": last, "status": status, **more}


def never_refused(entry: Mapping[str, Any]) -> bool:
    return (entry.get("error") or {}).get("status") != 400


def test_standing_chunks_leave_out_superseded_split_and_re_cut_ones() -> None:
    """What outcomes reads: a chunk marked superseded, a split parent, and (in a journal
    written before superseded entries) a never-sent chunk a later chunk overlaps are left
    out; a refused chunk that a later chunk spans without holding its records stays, and so
    does a planned chunk no later chunk touches."""
    assert [c["chunk"] for c in standing([chunk(1, 0, 9, "superseded"),
                                          chunk(10, 0, 9, "accepted")], never_refused)] == [10]
    chunks = [  # a journal without superseded entries: 8 re-cut 5 and 7 without saying so
        chunk(2, 10, 19, "split"),
        chunk(3, 10, 14, "accepted"), chunk(4, 15, 19, "accepted"),
        chunk(5, 20, 29, "planned"),                                  # re-cut by 8, unmarked
        chunk(6, 30, 39, "failed", error={"status": 400}),            # refused: stays
        chunk(7, 40, 49, "failed", error={"errorCode": "NOT-SENT"}),  # re-cut by 8, unmarked
        chunk(8, 0, 45, "accepted"),  # the resume's chunk: 0-9, 20-29, 40-45 (not 30-39)
        chunk(9, 50, 59, "planned"),  # the run stopped before sending it: it stands
    ]
    kept = [c["chunk"] for c in standing(chunks, never_refused)]
    assert kept == [3, 4, 6, 8, 9]


def test_a_superseded_entry_folds_over_a_planned_chunk_and_is_refused_over_a_sent_one(
        tmp_path: Path) -> None:
    """Only a chunk never sent can be superseded: a journal saying otherwise is a bug."""
    path = tmp_path / "j"
    write(path)
    journal = Journal.reopen(path, read_journal(path).complete_bytes)
    journal.write({"type": "chunk", "chunk": 2, "firstIndex": 11, "lastIndex": 20,
                   "messages": 10, "bytes": 300, "offset": 40, "line": 13})
    journal.write(superseded_entry(2))
    journal.close()
    assert read_journal(path).chunks[2]["status"] == "superseded"
    journal = Journal.reopen(path, read_journal(path).complete_bytes)
    journal.write(superseded_entry(1))  # chunk 1 was caught submitting: it may have gone out
    journal.close()
    with pytest.raises(IllegalTransition):
        read_journal(path)


def test_a_planned_chunk_a_later_chunk_spans_without_holding_it_stands() -> None:
    """Run 2 recovered chunk 6, proved it absent and was stopped before the resend (planned
    again); chunk 13 was cut around 6's range: 6 stands, its records not sent, not given to
    13 (a journal with gaps, and one of i18 without them)."""
    for gaps in ({"gaps": [[200, 299]], "digest": "d"}, {}):
        chunks = [chunk(5, 100, 199, "superseded"), chunk(6, 200, 299, "planned"),
                  chunk(7, 300, 399, "superseded"),
                  chunk(13, 100, 399, "accepted", messages=200, **gaps)]
        assert [c["chunk"] for c in standing(chunks, never_refused)] == [6, 13]
