"""The rejection spill's pure half: runs found in any arrival order, merged back by position
in bounded fan-in, and an aggregator whose memory holds counts and a few examples only."""

from __future__ import annotations

import random

import orjson
import pytest

from engine.core.aggregator import Aggregator, MemorySpill
from engine.core.chunkindex import PositionIndex
from engine.core.rejections import INVALID_NUMBER, SERVER, Rejection, mostly_rejected
from engine.core.spillruns import RunBook, Tally, cascade, decode, encode, merge


def runs_of(indexes: list[int]) -> list[list[int]]:
    """The runs a RunBook finds in ``indexes`` written one record an offset."""
    book = RunBook()
    for offset, index in enumerate(indexes):
        book.note(index, offset)
    return [indexes[a:b] for a, b in book.runs(len(indexes))]


def test_a_run_ends_wherever_a_position_goes_backwards() -> None:
    """Every run is sorted and together they hold every record, whatever the arrival order."""
    rng = random.Random(7)
    indexes = [rng.randrange(10_000) for _ in range(5_000)]
    runs = runs_of(indexes)
    assert all(run == sorted(run) for run in runs)
    assert [i for run in runs for i in run] == indexes
    assert runs_of([]) == []
    assert runs_of([4, 4, 4]) == [[4, 4, 4]]  # a tie stays on its run
    assert runs_of(list(range(100, 0, -1))) == [[i] for i in range(100, 0, -1)]


def test_local_then_chunk_bursts_make_one_run_each() -> None:
    """Local rejections in input order and each chunk's sorted burst: one run apiece."""
    arrivals = [1, 5, 9, 12, 3, 7, 20, 22, 15, 18, 30]
    assert runs_of(arrivals) == [[1, 5, 9, 12], [3, 7, 20, 22], [15, 18, 30]]


def test_the_merge_of_thousands_of_out_of_order_runs_is_sorted_and_complete() -> None:
    """3,000 runs (a chunk each) merged in passes of at most 8 give every position once, in
    order; ties keep their arrival order."""
    rng = random.Random(3)
    positions = list(range(30_000))
    rng.shuffle(positions)
    runs = [sorted(positions[k:k + 10]) for k in range(0, 30_000, 10)]
    entries = [[(i, str(i).encode()) for i in run] for run in runs]
    for groups in cascade(len(entries), 8):
        assert all(len(g) <= 8 for g in groups)
        entries = [list(merge(iter(entries[k]) for k in g)) for g in groups]
    assert len(entries) <= 8
    merged = list(merge(iter(run) for run in entries))
    assert [i for i, _ in merged] == list(range(30_000))
    assert all(payload == str(i).encode() for i, payload in merged)
    tied = list(merge([iter([(1, b"a"), (2, b"a")]), iter([(1, b"b")])]))
    assert tied == [(1, b"a"), (1, b"b"), (2, b"a")]
    assert list(merge([])) == []


def test_the_cascade_never_merges_more_than_its_fan_in() -> None:
    """The passes bring any number of runs down to the fan-in, each pass a partition."""
    for runs in (0, 1, 64, 65, 4_097, 300_000):
        left = runs
        for groups in cascade(runs, 64):
            assert [k for g in groups for k in g] == list(range(left))
            assert max(len(g) for g in groups) <= 64
            left = len(groups)
        assert left <= 64
    with pytest.raises(ValueError, match="fan-in of at least 2"):
        cascade(10, 1)


def test_records_round_trip_through_their_binary_form() -> None:
    """Position and JSON bytes come back as written, a large position and an empty one too."""
    entries = [(0, b""), (2**40, b'{"a":"\xc3\xa9"}'), (5, b"x" * 70_000)]
    assert list(decode(b"".join(encode(i, p) for i, p in entries))) == entries


def bad(index: int, code: str = INVALID_NUMBER) -> Rejection:
    return Rejection(index, index + 2, f"n{index}", code, f"'n{index}' is not a number")


def test_the_aggregator_keeps_counts_and_a_few_examples_after_100000_rejections() -> None:
    """After 100,000 rejections in shuffled order the aggregator holds the 20 lowest and one
    example per code; the spill has them all, sorted."""
    aggregator = Aggregator()
    order = list(range(100_000))
    random.Random(1).shuffle(order)
    for i in order:
        aggregator.add_local(bad(i, "A" if i % 3 else "B"))
    tally = aggregator.tally
    assert [r.index for r in tally.first()] == list(range(20))
    assert len(tally._first) == 20
    assert {c: r.index for c, r in tally.examples.items()} == {"A": 1, "B": 0}
    assert tally.by_code == {"A": 66_666, "B": 33_334}
    assert [i for i, _ in aggregator.merged()] == list(range(100_000))


def test_the_aggregator_spills_the_same_json_the_report_held() -> None:
    """Each spilled payload is the rejection's as_json, and rejections() parses them back."""
    aggregator = Aggregator(MemorySpill(), Tally(keep=2))
    index = PositionIndex()
    index.extend([10, 11, 12, 13], [20, 21, 22, 23])
    aggregator.add_local(bad(14))
    translated = aggregator.add_chunk(index, "b1", [
        {"index": 3, "errorCode": "CMN-100", "to": ["+1"], "description": "no"},
        {"index": 1, "errorCode": "CMN-100", "to": ["+2"], "description": "no"}])
    assert [r.index for r in translated] == [12, 10]  # events keep the answer's order
    assert [orjson.loads(p) for _, p in aggregator.merged()] == [
        r.as_json() for r in sorted([bad(14), *translated], key=lambda r: r.index)]
    assert aggregator.rejections() == sorted([bad(14), *translated], key=lambda r: r.index)
    assert [r.index for r in aggregator.tally.first()] == [10, 12]
    assert (aggregator.rejected_local, aggregator.rejected_server, aggregator.sent) == (1, 2, 2)
    assert all(r.source == SERVER for r in translated)


def test_the_mostly_rejected_warning_is_the_same_from_counts_as_from_the_list() -> None:
    """The aggregator's warning (counts and lowest example per code) equals the one built
    from every rejection, whatever order they arrived in."""
    rejections = [bad(i, "LCL-NOT-NORTH-AMERICAN" if i % 4 else INVALID_NUMBER)
                  for i in range(400)]
    aggregator = Aggregator()
    for r in reversed(rejections):
        aggregator.add_local(r)
    expected = mostly_rejected(500, rejections)
    assert expected is not None
    assert "e.g. line 3:" in expected
    assert aggregator.mostly_rejected(500) == expected
    assert aggregator.mostly_rejected(800) is None
    assert Aggregator().mostly_rejected(0) is None
