"""A journal's local rejections read without holding them: long lines in pieces, positions
kept compactly, the rejections streamed again in position order for a resume."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.core import lifecycle
from engine.core.aggregator import Aggregator
from engine.core.positions import Positions
from engine.core.rejections import Rejection
from engine.errors import JournalError
from engine.run import journalscan
from engine.run.journal import (
    ChunkEntry,
    Journal,
    local_entry,
    local_rejections,
    read_journal,
    state_entry,
    superseded_entry,
)
from engine.run.report import ChunkRecord
from engine.run.resume import restore

# Values that look like the bytes a long line is cut at, quotes, backslashes, non-ASCII.
TRICKY = ('},{"index":1}', 'a "quoted" },{" value', "back\\slash},{\\\"", "é😀")


def bad(index: int, note: str = "") -> Rejection:
    return Rejection(index, index + 2, TRICKY[index % len(TRICKY)],
                     "LCL-INVALID-NUMBER", f"not a number {note}{TRICKY[index % 3]}")


def journal_with(path: Path, *entries: dict[str, Any]) -> Path:
    journal = Journal.create(path, {"runId": "r", "sender": "+16505550100"})
    for entry in entries:
        journal.write(entry)
    journal.close()
    return path


def every_line_whole(path: Path) -> dict[int, dict[str, Any]]:
    """The local rejections as a whole-line fold sees them (the later of a repeat wins)."""
    out: dict[int, dict[str, Any]] = {}
    for line in path.read_bytes().splitlines():
        entry = orjson.loads(line)
        if entry["type"] == "local":
            out.update((item["index"], item) for item in entry["rejected"])
    return out


@pytest.mark.parametrize("piece", [16, 64, 1 << 20])
def test_long_local_lines_read_in_pieces_give_every_rejection_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece: int) -> None:
    """However small the pieces a line is read in, and whatever its values hold, every
    rejection comes back once, as written, in position order; chunks around them fold."""
    monkeypatch.setattr(journalscan, "PIECE", piece)
    path = journal_with(tmp_path / "j", local_entry([bad(i) for i in range(0, 300)]),
                        ChunkEntry(1, 300, 309, 10, 100, 7, 8).to_json(),
                        local_entry([bad(i) for i in range(310, 400)]),
                        local_entry([]))
    state = read_journal(path)
    expected = every_line_whole(path)
    assert list(state.local) == sorted(expected) == [*range(300), *range(310, 400)]
    assert [r.as_json() for r in local_rejections(state)] == \
        [expected[i] for i in sorted(expected)]
    assert state.chunks[1]["firstIndex"] == 300
    assert len(state.local_runs) == 1


def test_an_unsorted_journal_with_repeats_streams_in_position_order_the_later_winning(
        tmp_path: Path) -> None:
    """Entries out of order (a2p writes them in input order; a journal need not be): the
    positions are the set, and the stream gives each position once, in order, as the later
    entry for it says."""
    path = journal_with(tmp_path / "j", local_entry([bad(5), bad(9), bad(2)]),
                        local_entry([bad(7), bad(9, "again")]),
                        local_entry([bad(1), bad(5, "again")]))
    state = read_journal(path)
    assert list(state.local) == [1, 2, 5, 7, 9]
    streamed = list(local_rejections(state))
    assert [r.index for r in streamed] == [1, 2, 5, 7, 9]
    assert [r for r in streamed if "again" in r.description] == [bad(5, "again"),
                                                                  bad(9, "again")]
    assert {r.as_json()["index"]: r.as_json() for r in streamed} == every_line_whole(path)


def test_a_journal_in_descending_order_is_sorted_all_the_same(tmp_path: Path) -> None:
    """More runs than are merged from the file (each position its own run) still come back
    in position order."""
    count = 3 * journalscan.MAX_RUNS
    path = journal_with(tmp_path / "j", *(local_entry([bad(i)]) for i in range(count, 0, -1)))
    state = read_journal(path)
    assert len(state.local_runs) == count
    assert [r.index for r in local_rejections(state)] == list(range(1, count + 1))


def test_a_torn_long_local_line_is_dropped_whole(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Power lost in the middle of writing a long local line: none of its rejections is
    counted (its first items are whole, the line is not) and appending starts before it."""
    monkeypatch.setattr(journalscan, "PIECE", 32)
    path = journal_with(tmp_path / "j", local_entry([bad(0), bad(1)]))
    whole = path.read_bytes()
    torn = orjson.dumps(local_entry([bad(i) for i in range(2, 50)]))[:-40]
    path.write_bytes(whole + torn)
    state = read_journal(path)
    assert list(state.local) == [0, 1]
    assert [r.index for r in local_rejections(state)] == [0, 1]
    assert state.complete_bytes == len(whole)


def test_a_damaged_item_inside_a_long_line_names_its_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long local line broken in its middle is refused, naming the line, as a short one."""
    monkeypatch.setattr(journalscan, "PIECE", 32)
    path = journal_with(tmp_path / "j", local_entry([bad(i) for i in range(20)]))
    data = path.read_bytes().replace(b'"index":9,', b'"index":,')
    path.write_bytes(data)
    with pytest.raises(JournalError, match="line 2: not a journal entry"):
        read_journal(path)
    path.write_bytes(data.replace(b'"index":,', b'"index":"9",'))
    with pytest.raises(JournalError, match="line 2: not a journal entry"):
        read_journal(path)


def test_the_folded_journal_holds_positions_not_rejections(tmp_path: Path) -> None:
    """What read_journal keeps of 5,000 local rejections: their positions in a few arrays
    (at most 8 bytes each), no Rejection, no journaled item."""
    path = journal_with(tmp_path / "j", local_entry([bad(i) for i in range(0, 10_000, 2)]))
    state = read_journal(path)
    assert isinstance(state.local, Positions)
    assert len(state.local) == 5_000
    assert state.local.nbytes <= 8 * 5_000
    seen, todo = {id(state)}, [state]
    while todo:
        for child in gc.get_referents(todo.pop()):
            if id(child) not in seen and not isinstance(child, type):
                assert not isinstance(child, Rejection)
                assert not (isinstance(child, dict) and "errorCode" in child)
                seen.add(id(child))
                todo.append(child)


def test_a_resume_takes_rejected_positions_from_the_compact_set(tmp_path: Path) -> None:
    """A chunk an earlier resume superseded no longer waits once the chunks cut again hold
    its records and the journal rejected the rest locally; one position neither held nor
    rejected makes the input be read from it again. Every local rejection is restored."""
    def journal(rejected: list[int], name: str) -> Path:
        entries: list[dict[str, Any]] = [ChunkEntry(1, 0, 9, 4, 100, 30, 2).to_json(),
                                         superseded_entry(1),
                                         local_entry([bad(i) for i in rejected])]
        for number, first, last in ((2, 0, 3), (3, 8, 9)):
            made = ChunkRecord(number, first, last, last - first + 1, 100,
                               state=lifecycle.ACCEPTED, batch_id=f"b{number}")
            entries += [ChunkEntry(number, first, last, made.count, 100, 30 + first,
                                   2 + first).to_json(), state_entry(made)]
        return journal_with(tmp_path / name, *entries)

    aggregator = Aggregator()
    state = read_journal(journal([4, 5, 6, 7], "all"))
    assert state.chunks[1]["status"] == lifecycle.SUPERSEDED
    settled = restore(state, aggregator)
    assert settled.read_from is not None
    assert settled.read_from["chunk"] == 3
    assert aggregator.rejected_local == 4
    assert [r.index for r in aggregator.rejections()] == [4, 5, 6, 7]
    assert 5 in settled.known_local
    assert 3 not in settled.known_local
    waiting = restore(read_journal(journal([4, 5, 7], "one")), Aggregator())
    assert waiting.read_from is not None
    assert waiting.read_from["chunk"] == 1
