"""A journal's server rejections are not held: the fold counts them and notes where they are,
a resume and ``a2p outcomes`` read them again from the file in position order, and what a
resume restores is what the whole-line fold restored before."""

from __future__ import annotations

import gc
import os
import tracemalloc
from operator import attrgetter
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.core import lifecycle
from engine.core.aggregator import Aggregator, NoSpill
from engine.core.rejections import SERVER, Rejection, rejection_of
from engine.errors import JournalError
from engine.run import journalscan
from engine.run.journal import (
    ChunkEntry,
    Journal,
    local_entry,
    read_journal,
    server_rejections,
    state_entry,
)
from engine.run.report import ChunkRecord
from engine.run.resume import restore

# Values that look like the bytes a long line is cut at, quotes, backslashes, non-ASCII.
TRICKY = ('},{"index":1}', 'a "quoted" },{" value', "back\\slash},{\\\"", "é😀",
          ',"rejected":[')


def refused(index: int, batch: str, note: str = "") -> dict[str, Any]:
    return {"index": index, "line": index + 2, "to": f"+4420{index:08d}",
            "errorCode": "SMS-UP-410", "description": f"invalid {note}{TRICKY[index % 5]}",
            "batchId": batch, "source": SERVER}


def local(index: int) -> Rejection:
    return Rejection(index, index + 2, "555", "LCL-INVALID-NUMBER", "not a number")


def record(number: int, first: int, last: int, state: str = lifecycle.ACCEPTED,
           **changes: Any) -> ChunkRecord:
    return ChunkRecord(number, first, last, last - first + 1, 100, state=state,
                       batch_id=f"b{number}", **changes)


def chunk(number: int, first: int, last: int, gaps: tuple[tuple[int, int], ...] = ()
          ) -> dict[str, Any]:
    held = last - first + 1 - sum(b - a + 1 for a, b in gaps)
    return ChunkEntry(number, first, last, held, 100, 10 * first, first + 2, gaps,
                      f"d{number}").to_json()


def accepted(number: int, first: int, last: int, positions: list[int], **extra: Any
             ) -> dict[str, Any]:
    return state_entry(record(number, first, last),
                       rejected=[refused(i, f"b{number}") for i in positions], **extra)


def out_of_order_journal(path: Path) -> Path:
    """Chunks answered out of order (3, 1, 4, 2), an adopted chunk whose rejections came
    back later from its store, a chunk a resume cut around another's range (their
    rejections interleave), one written unsorted (an older writer), a long line with a key
    after its rejections, local rejections between, and a chunk never sent."""
    entries: list[dict[str, Any]] = []
    for n in range(1, 5):
        entries += [chunk(n, 100 * (n - 1), 100 * n - 1),
                    state_entry(record(n, 100 * (n - 1), 100 * n - 1, lifecycle.SUBMITTING))]
    entries.append(local_entry([local(i) for i in (7, 8, 150)]))
    for n in (3, 1, 4, 2):
        first = 100 * (n - 1)
        entries.append(accepted(n, first, first + 99, list(range(first + n, first + 100, n))))
    entries += [state_entry(record(1, 0, 99, lifecycle.COMPLETED)),  # keeps chunk 1's
                state_entry(record(3, 200, 299, lifecycle.COMPLETED))]
    entries += [chunk(5, 400, 449), accepted(5, 400, 449, []),  # adopted: none known yet
                state_entry(record(5, 400, 449, lifecycle.COMPLETED),
                            rejected=[refused(i, "b5", "store ") for i in (401, 440)])]
    entries += [chunk(7, 500, 549), chunk(6, 450, 649, ((500, 549),)),
                accepted(6, 450, 649, [*range(450, 500, 2), *range(551, 650, 5)]),
                accepted(7, 500, 549, list(range(500, 550, 3)))]
    entries += [chunk(8, 650, 699),
                state_entry(record(8, 650, 699),
                            rejected=[refused(i, "b8") for i in range(699, 649, -4)])]
    entries += [chunk(9, 700, 799), accepted(9, 700, 799, list(range(700, 800)), limit=77)]
    entries += [chunk(10, 800, 899)]  # planned: never sent
    journal = Journal.create(path, {"runId": "r", "sender": "+16505550100"})
    for entry in entries:
        journal.write(entry)
    journal.close()
    return path


def whole_line_fold(path: Path) -> dict[int, dict[str, Any]]:
    """Each chunk as the fold before this change made it, ``rejected`` and all."""
    chunks: dict[int, dict[str, Any]] = {}
    for line in path.read_bytes().splitlines():
        entry = orjson.loads(line)
        if entry["type"] == "chunk":
            chunks[entry["chunk"]] = {**ChunkEntry.from_json(entry).to_json(),
                                      "status": lifecycle.PLANNED}
        elif entry["type"] == "state":
            chunks.setdefault(entry["chunk"], {"chunk": entry["chunk"]}).update(entry)
    return chunks


def restored_before(path: Path, numbers: list[int]) -> Aggregator:
    """What the restore before this change put in the aggregator: each restored chunk's
    ``rejected`` from the whole-line fold, sorted, then the local rejections."""
    aggregator = Aggregator()
    for number, entry in sorted(whole_line_fold(path).items()):
        if number not in numbers:
            continue
        for item in sorted(entry.get("rejected") or [], key=lambda r: r["index"]):
            aggregator.add_known(rejection_of(item, SERVER))
        if entry.get("status") in (lifecycle.ACCEPTED, lifecycle.COMPLETED):
            made = ChunkRecord.from_json(entry)
            aggregator.restored(made.count - len(entry.get("rejected") or []) -
                                (made.pending or 0), made.pending or 0)
    for rejection in sorted((local(i) for i in (7, 8, 150)), key=attrgetter("index")):
        aggregator.add_local(rejection)
    return aggregator


def holds_no_rejection(root: object) -> bool:
    """Nothing reachable from ``root`` is a rejection, as an object or as journaled."""
    seen, todo = {id(root)}, [root]
    while todo:
        for child in gc.get_referents(todo.pop()):
            if isinstance(child, Rejection) or (isinstance(child, dict) and
                                                "errorCode" in child):
                return False
            if id(child) not in seen and not isinstance(child, type):
                seen.add(id(child))
                todo.append(child)
    return True


@pytest.mark.parametrize("piece", [1024, 1 << 20])  # 1024: state lines read in pieces
def test_a_resume_restores_what_the_whole_line_fold_did_without_holding_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece: int) -> None:
    """Chunks answered out of order, rejections replaced, interleaving, unsorted, on long
    lines: the folded journal holds none of them, streams them in position order as the last
    entry of each chunk says, and a resume restores the same counts and the very bytes the
    report is written from."""
    monkeypatch.setattr(journalscan, "PIECE", piece)
    streamed = [0]
    head_of = journalscan._state_head

    def spied(data: bytes) -> Any:
        found = head_of(data)
        streamed[0] += found is not None
        return found

    monkeypatch.setattr(journalscan, "_state_head", spied)
    path = out_of_order_journal(tmp_path / "run.journal")
    state = read_journal(path)
    assert (streamed[0] >= 8) if piece == 1024 else (streamed[0] == 0)
    before = whole_line_fold(path)
    assert all("rejected" not in entry for entry in state.chunks.values())
    assert holds_no_rejection(state)
    for number, entry in before.items():
        assert state.chunks[number] == {k: v for k, v in entry.items() if k != "rejected"}
        assert state.rejected_server(number) == len(entry.get("rejected") or [])
    assert state.chunks[9]["limit"] == 77  # the key after a long line's rejections
    expected = sorted((item for entry in before.values() for item in entry.get("rejected") or []),
                      key=lambda item: item["index"])
    assert [r.as_json() for r in server_rejections(state)] == expected
    assert [r.index for r in server_rejections(state, {6, 7})] == sorted(
        [*range(450, 500, 2), *range(551, 650, 5), *range(500, 550, 3)])

    aggregator = Aggregator()
    plan = restore(state, aggregator)
    old = restored_before(path, sorted(plan.records))
    assert sorted(plan.records) == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert list(aggregator.merged()) == list(old.merged())
    assert (aggregator.sent, aggregator.pending, aggregator.rejected_server,
            aggregator.rejected_local) == (old.sent, old.pending, old.rejected_server, 3)
    assert aggregator.tally.first() == old.tally.first()
    assert aggregator.mostly_rejected(900) == old.mostly_rejected(900)


def test_the_outcomes_spans_hold_no_rejection_and_stop_early_closes_the_files(
        tmp_path: Path) -> None:
    """What ``a2p outcomes`` builds from the journal (its spans) holds no rejection, and a
    stream dropped midway leaves no file open."""
    from engine.results.walk import spans_of

    state = read_journal(out_of_order_journal(tmp_path / "run.journal"))
    spans = spans_of(state.chunks.values())
    assert [s.number for s in spans] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert holds_no_rejection(spans)
    files = len(os.listdir("/proc/self/fd"))
    stream = server_rejections(state, {s.number for s in spans if s.accepted})
    assert next(stream).index == 1
    assert len(os.listdir("/proc/self/fd")) > files
    stream.close()
    assert len(os.listdir("/proc/self/fd")) == files


def test_a_damaged_server_rejection_names_its_line(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """An item without an integer position is refused when the journal is folded, a long
    line's as a short one's; one missing a field when it is read again."""
    for piece in (32, 1 << 20):
        monkeypatch.setattr(journalscan, "PIECE", piece)
        path = tmp_path / f"j{piece}"
        journal = Journal.create(path, {"runId": "r", "sender": "+16505550100"})
        journal.write(chunk(1, 0, 9))
        journal.write(accepted(1, 0, 9, list(range(10))))
        journal.close()
        data = path.read_bytes()
        path.write_bytes(data.replace(b'"index":5,', b'"index":"5",'))
        with pytest.raises(JournalError, match="line 3: not a journal entry"):
            read_journal(path)
        path.write_bytes(data.replace(b'"errorCode"', b'"errorKode"', 1))
        state = read_journal(path)
        with pytest.raises(JournalError, match="line 3: not a journal entry"):
            list(server_rejections(state))


def peak_of(path: Path) -> int:
    """tracemalloc's peak while the journal is folded and a resume restores it (the
    aggregator spills nowhere: the journal's side alone is measured)."""
    gc.collect()
    tracemalloc.start()
    try:
        state = read_journal(path)
        aggregator = Aggregator(spill=NoSpill())
        restore(state, aggregator)
        assert aggregator.rejected_server == state.rejected_server(1)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def one_chunk_journal(path: Path, count: int) -> Path:
    """One chunk of ``count`` recipients, every one rejected by the server: one long line."""
    journal = Journal.create(path, {"runId": "r", "sender": "+16505550100"})
    journal.write(chunk(1, 0, count - 1))
    journal.write(accepted(1, 0, count - 1, list(range(count))))
    journal.close()
    return path


def test_memory_of_a_resume_does_not_grow_with_the_server_rejections(tmp_path: Path) -> None:
    """200,000 server rejections cost a resume about what 20,000 do (ten times as many held
    would be ten times the peak): counted by tracemalloc, not timed."""
    small = peak_of(one_chunk_journal(tmp_path / "small.journal", 20_000))
    large = peak_of(one_chunk_journal(tmp_path / "large.journal", 200_000))
    assert large < 1.5 * small, (small, large)
