"""Which chunk holds which position (engine/core/holdings.py): a chunk's members kept as gaps
or as a bitmap are the same positions, journaled and read back; Holdings answers exactly what
the chunks hold; an old journal's long gap list is read as a bitmap with the same meaning."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.batching.chunker import Chunker
from engine.core import lifecycle
from engine.core.holdings import GAPS_MAX, Holdings, Members, pieces
from engine.core.rejections import Aggregator
from engine.errors import JournalError
from engine.reading import Block
from engine.run.journal import ChunkEntry, Journal, read_journal, state_entry
from engine.run.membership import standing
from engine.run.recorder import Recorder
from engine.run.report import ChunkRecord
from engine.run.resume import others, rebuild_chunk, restore

SENDER = "+16505550100"


def runs_of(held: set[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for p in sorted(held):
        if out and out[-1][1] == p - 1:
            out[-1] = (out[-1][0], p)
        else:
            out.append((p, p))
    return out


@st.composite
def memberships(draw: st.DrawFn) -> tuple[int, int, set[int]]:
    first = draw(st.integers(0, 40))
    last = first + draw(st.integers(0, 200))
    inside = draw(st.sets(st.integers(first, last)))
    return first, last, inside | {first, last}


@settings(max_examples=300, deadline=None)
@given(memberships())
def test_gaps_and_bitmaps_hold_the_same_positions_journaled_and_read_back(
        case: tuple[int, int, set[int]]) -> None:
    """Whatever the encoding (few gaps: ranges; many: a bitmap), a chunk holds exactly its
    positions, its runs are theirs, and its journal fields read back to the same."""
    first, last, held = case
    runs = runs_of(held)
    gaps = [(b + 1, c - 1) for (_, b), (c, _) in pairwise(runs)]
    for members in (Members.of_runs(first, last, iter(runs)),
                    Members.of_gaps(first, last, gaps)):
        assert (members.bits is None) == (len(gaps) <= GAPS_MAX)
        fields: dict[str, Any] = members.json_fields()
        again = Members.from_json(first, last, fields.get("gaps"), fields.get("held"))
        for m in (members, again):
            assert [p for p in range(first - 2, last + 3) if m.holds(p)] == sorted(held)
            assert list(m.runs()) == runs
            lo, hi = first + (last - first) // 3, last - (last - first) // 4
            assert list(m.runs(lo, hi)) == runs_of({p for p in held if lo <= p <= hi})


@st.composite
def chunk_sets(draw: st.DrawFn) -> list[tuple[int, Members, set[int]]]:
    """Chunks of a few runs: each run's chunks have disjoint ranges, and each position is
    held by at most one chunk in all (rounds leaving out what others hold)."""
    size = draw(st.integers(1, 300))
    owner = draw(st.lists(st.integers(0, 4), min_size=size, max_size=size))  # 0: nobody
    out, number = [], 0
    for run in range(1, 5):
        mine = [p for p in range(size) if owner[p] == run]
        cuts = sorted(draw(st.sets(st.integers(1, max(len(mine) - 1, 1)), max_size=4)))
        for part in (mine[a:b] for a, b in zip([0, *cuts], [*cuts, len(mine)], strict=True)):
            if part:
                number += 1
                out.append((number, Members.of_runs(part[0], part[-1], iter(runs_of(
                    set(part)))), set(part)))
    return out


@settings(max_examples=200, deadline=None)
@given(chunk_sets())
def test_holdings_answer_exactly_which_chunk_holds_each_position(
        chunks: list[tuple[int, Members, set[int]]]) -> None:
    """holder, covered and next_free agree with the chunks' positions, one by one."""
    holdings = Holdings((n, m) for n, m, _ in chunks)
    owner = {p: n for n, _, held in chunks for p in held}
    top = max(owner, default=0) + 3
    assert [holdings.holder(p) for p in range(top)] == [owner.get(p) for p in range(top)]
    assert [p for p in range(top) if holdings.covers(p)] == sorted(owner)
    assert list(holdings.covered(0, top)) == runs_of(set(owner))
    for lo in range(0, top, 7):
        free = next((p for p in range(lo, top) if p not in owner), None)
        assert holdings.next_free(lo, top - 1) == free
    assert len(holdings.layers) <= 4  # a run's chunks share one


def write_journal(path: Path, entries: list[dict[str, Any]]) -> None:
    journal = Journal.create(path, {"runId": "r", "sender": SENDER})
    for entry in entries:
        journal.write(entry)
    journal.close()


def test_an_old_journals_long_gap_list_is_read_as_a_bitmap_of_the_same_positions(
        tmp_path: Path) -> None:
    """A scheduled round journaled before bitmaps (one gap per recipient left out): read as a
    bitmap, and a resume skips exactly the recipients that chunk sent."""
    held = set(range(0, 100, 3))
    runs = runs_of(held)
    gaps = [[b + 1, c - 1] for (_, b), (c, _) in pairwise(runs)]
    entry = {"type": "chunk", "chunk": 1, "firstIndex": 0, "lastIndex": 99,
             "messages": len(held), "bytes": 10, "offset": 3, "line": 2, "gaps": gaps,
             "digest": "d"}
    record = ChunkRecord(1, 0, 99, len(held), 10, batch_id="b1", state=lifecycle.COMPLETED)
    write_journal(tmp_path / "run.journal", [entry, state_entry(record)])
    state = read_journal(tmp_path / "run.journal")
    assert "gaps" not in state.chunks[1]
    assert len(state.chunks[1]["held"]) < 60
    plan = restore(state, Aggregator())
    assert [p for p in range(120) if plan.holdings.covers(p)] == sorted(held)
    assert plan.members[1].bits is not None
    assert [p for p in range(100) if others({}, state.chunks[1]).holds(p)] == sorted(held)


def test_a_chunk_cut_around_many_skipped_chunks_journals_a_bitmap_and_is_rebuilt(
        tmp_path: Path) -> None:
    """A resumed run (not scheduled) cuts a chunk around 30 skipped ranges: it journals the
    positions it holds as a bitmap (its records and those rejected locally between them, as
    its gaps did), and reading it again gives the very chunk."""
    skipped = [(10 * k + 5, 10 * k + 9) for k in range(30)]
    path = tmp_path / "run.journal"
    journal = Journal.create(path, {"runId": "r", "sender": SENDER})
    recorder = Recorder(_no_emit, journal=journal)
    recorder.restore({}, {}, Holdings.of_ranges(skipped))
    positions = [p for p in range(300) if p % 10 < 5 and p != 42]  # 42: rejected locally
    (chunk,) = Chunker(SENDER, "Hi", 1 << 20).chunks(
        [Block([f"+1415555{p:04d}" for p in positions], None, positions)])
    recorder.record_for(chunk)
    journal.close()
    entry = read_journal(path).chunks[chunk.number]
    assert "held" in entry
    assert "gaps" not in entry
    members = others({}, entry)
    assert list(members.runs()) == pieces(0, 294, skipped)  # 42 is still its own
    block = Block([f"+1415555{p:04d}" for p in range(300) if p != 42], None,
                  [p for p in range(300) if p != 42])
    rebuilt = rebuild_chunk([block], entry, SENDER, "Hi", members)
    assert rebuilt.digest == chunk.digest
    assert rebuilt.count == chunk.count


def _no_emit(event: object) -> Any:
    raise AssertionError("nothing is emitted")


def test_a_planned_chunk_stands_unless_a_later_chunk_holds_one_of_its_positions() -> None:
    """journal.standing with bitmaps: a chunk never sent whose range a later round's chunk
    spans without holding any of its positions still stands; one whose positions a later
    chunk holds was cut again (superseded in an old journal) and does not."""
    even = Members.of_runs(0, 98, ((p, p) for p in range(0, 100, 2)))
    odd = Members.of_runs(1, 99, ((p, p) for p in range(1, 100, 2)))

    def folded(number: int, members: Members, status: str) -> dict[str, Any]:
        entry = ChunkEntry.of(number, members.first, members.last, 50, 10, None, None,
                              members, "d").to_json()
        return {**entry, "status": status}

    interleaved = [folded(1, even, lifecycle.PLANNED), folded(2, odd, lifecycle.ACCEPTED)]
    assert [c["chunk"] for c in standing(interleaved, lambda c: False)] == [1, 2]
    again = [folded(1, even, lifecycle.PLANNED), folded(2, even, lifecycle.ACCEPTED)]
    assert [c["chunk"] for c in standing(again, lambda c: False)] == [2]


def test_a_version_1_journal_is_read_and_resumed_without_bitmaps(tmp_path: Path) -> None:
    """Journals of version 1 (before ``held``) are still read; a round resuming one journals
    gaps, so a build that knows only version 1 reads it right; a newer version is refused."""
    path = tmp_path / "old.journal"
    path.write_bytes(orjson.dumps({"type": "run", "version": 1, "runId": "r",
                                   "sender": SENDER}) + b"\n")
    assert read_journal(path).header["version"] == 1
    journal = Journal.reopen(path, path.stat().st_size)
    recorder = Recorder(_no_emit, journal=journal)
    recorder.holes, recorder.bitmaps = True, False  # as api._reopen sets for version 1
    positions = list(range(0, 100, 3))
    (chunk,) = Chunker(SENDER, "Hi", 1 << 20).chunks(
        [Block([f"+1415555{p:04d}" for p in positions], None, positions)])
    recorder.record_for(chunk)
    journal.close()
    line = orjson.loads(path.read_bytes().splitlines()[-1])
    assert "held" not in line
    assert len(line["gaps"]) == len(positions) - 1
    newer = tmp_path / "newer.journal"
    newer.write_bytes(orjson.dumps({"type": "run", "version": 3, "runId": "r"}) + b"\n")
    with pytest.raises(JournalError, match="version 1 or 2"):
        read_journal(newer)
    fresh = tmp_path / "fresh.journal"
    Journal.create(fresh, {"runId": "r", "sender": SENDER}).close()
    assert read_journal(fresh).header["version"] == 2
