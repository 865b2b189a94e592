"""The aggregator: server indexes map back to input positions, in any order, and hostile answers
never put a wrong position in the report."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.aggregator import Aggregator
from engine.core.chunkindex import PositionIndex
from engine.core.rejections import Rejection, mostly_rejected
from engine.errors import BadAnswerError


def index_of(positions: list[int], lines: list[int] | None = None) -> PositionIndex:
    index = PositionIndex()
    index.extend(positions, lines)
    return index


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=200),
    cuts=st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=10),
    data=st.data(),
)
def test_any_rejected_indexes_translate_to_their_positions(gaps: list[int], cuts: list[int],
                                                           data: st.DataObject) -> None:
    """Whatever the chunking and whatever the server rejects, positions come back exactly,
    merged in input order whatever order the chunks answer in."""
    positions = [sum(gaps[:i + 1]) for i in range(len(gaps))]
    chunks, start = [], 0
    for cut in cuts * (len(positions) // sum(cuts) + 1):
        if start >= len(positions):
            break
        chunks.append(positions[start:start + cut])
        start += cut
    aggregator, expected = Aggregator(), []
    answers = []
    for number, chunk in enumerate(chunks):
        picked = data.draw(st.sets(st.integers(min_value=1, max_value=len(chunk))))
        expected += [chunk[i - 1] for i in picked]
        entries = [{"index": i, "to": ["+1"], "errorCode": "SMS-RC-410", "description": "x"}
                   for i in picked]
        answers.append((index_of(chunk, [p + 1 for p in chunk]), f"batch-{number}", entries))
    for index, batch_id, entries in data.draw(st.permutations(answers)):
        aggregator.add_chunk(index, batch_id, entries)
    merged = aggregator.rejections()
    assert [r.index for r in merged] == sorted(expected)
    assert all(r.line == r.index + 1 for r in merged)
    assert aggregator.sent + aggregator.rejected_server == len(positions)


def test_local_and_server_rejections_merge_by_position() -> None:
    """Local rejections and server ones interleave by original position, with their source."""
    aggregator = Aggregator()
    aggregator.add_local(Rejection(3, 5, "bad", "LCL-INVALID-NUMBER", "not E.164"))
    translated = aggregator.add_chunk(index_of([0, 1, 2, 4]), "b1", [
        {"index": 4, "to": ["+14155550104"], "errorCode": "SMS-RC-410", "description": "bad"}])
    assert translated[0].as_json() == {
        "index": 4, "line": None, "to": "+14155550104", "errorCode": "SMS-RC-410",
        "description": "bad", "batchId": "b1", "source": "server"}
    assert [(r.index, r.source) for r in aggregator.rejections()] == [(3, "local"),
                                                                      (4, "server")]
    assert (aggregator.sent, aggregator.rejected_local, aggregator.rejected_server) == (3, 1, 1)


@pytest.mark.parametrize(
    "entries",
    [[{"index": 0}], [{"index": 4}], [{"index": 1}, {"index": 1}], [{"index": "1"}],
     [{"index": True}], ["not an object"], [{"to": ["+1"]}]],
    ids=["zero", "past-end", "repeated", "string", "bool", "not-object", "missing"],
)
def test_hostile_rejected_entries_are_refused(entries: list[Any]) -> None:
    """Out-of-range, repeated or mistyped indexes are an error for the chunk, not a position."""
    aggregator = Aggregator()
    with pytest.raises(BadAnswerError, match="Check the batch"):
        aggregator.add_chunk(index_of([10, 11, 12]), "b1", entries)
    assert aggregator.rejections() == []


def test_mostly_rejected_names_the_commonest_reason() -> None:
    """Over half rejected: the warning gives the share, the commonest code and a first example."""
    bad = [Rejection(i, i + 2, f"650-{i}", "LCL-INVALID-NUMBER", f"'650-{i}' is not ...")
           for i in range(5)] + [Rejection(9, None, "+44", "SMS-RC-410", "invalid", "b", "server")]
    warning = mostly_rejected(10, bad)
    assert warning is not None
    assert warning.startswith("6 of 10 records (60%) were rejected; the commonest reason is "
                              "LCL-INVALID-NUMBER (5 records), e.g. line 2: '650-0' is not")


def test_half_or_fewer_rejected_is_no_warning() -> None:
    """Exactly half rejected, or an empty run, warns about nothing."""
    bad = [Rejection(i, None, "x", "LCL-INVALID-NUMBER", "bad") for i in range(5)]
    assert mostly_rejected(10, bad) is None
    assert mostly_rejected(0, []) is None


def test_a_rejection_built_the_old_way_keeps_its_fields_and_json() -> None:
    """Rejection(index, line, to, code, description, batch_id, source) builds, reads, compares,
    hashes, pickles and serialises as the dataclass it was, and cannot be changed."""
    import pickle

    old = Rejection(3, 5, "bad", "LCL-INVALID-NUMBER", "not E.164")
    server = Rejection(index=7, line=None, to="+14155550100", error_code="SMS-RC-410",
                       description="x", batch_id="b1", source="server")
    assert (old.index, old.line, old.to, old.error_code, old.description, old.batch_id,
            old.source) == (3, 5, "bad", "LCL-INVALID-NUMBER", "not E.164", None, "local")
    assert old.as_json() == {"index": 3, "line": 5, "to": "bad",
                             "errorCode": "LCL-INVALID-NUMBER", "description": "not E.164",
                             "batchId": None, "source": "local"}
    assert server.as_json()["batchId"] == "b1"
    assert server.source == "server"
    assert old == Rejection(3, 5, "bad", "LCL-INVALID-NUMBER", "not E.164") != server
    assert len({old, Rejection(3, 5, "bad", "LCL-INVALID-NUMBER", "not E.164"), server}) == 2
    assert pickle.loads(pickle.dumps(server)) == server
    assert repr(old) == ("Rejection(index=3, line=5, to='bad', error_code='LCL-INVALID-NUMBER', "
                         "description='not E.164', batch_id=None, source='local')")
    with pytest.raises(AttributeError):
        old.description = "changed"  # type: ignore[misc]
    assert old != (3, 5, "bad", "LCL-INVALID-NUMBER", "not E.164", None, "local", None)


def test_a_lazy_description_reads_like_the_eager_one() -> None:
    """A rejection described when read (the reader's bad numbers) equals, hashes, pickles and
    serialises like one built with its text, and works out the text only when asked."""
    import pickle

    from engine.core.rejections import rejected_many

    asked: list[str] = []

    def explain(to: str) -> str:
        asked.append(to)
        return f"{to} is bad"

    lazy = list(rejected_many([4, 9], [6, 11], ["+10005550100", "x"],
                              ["LCL-INVALID-NUMBER", "LCL-EMPTY-TO"], explain))
    one = Rejection.explained(4, 6, "+10005550100", "LCL-INVALID-NUMBER", explain)
    assert asked == []
    eager = [Rejection(4, 6, "+10005550100", "LCL-INVALID-NUMBER", "+10005550100 is bad"),
             Rejection(9, 11, "x", "LCL-EMPTY-TO", "x is bad")]
    assert lazy == eager
    assert one == eager[0]
    assert [r.as_json() for r in lazy] == [r.as_json() for r in eager]
    assert hash(lazy[0]) == hash(eager[0])
    assert repr(lazy[1]) == repr(eager[1])
    assert pickle.loads(pickle.dumps(lazy[0])) == eager[0]
    assert lazy[1].description == "x is bad"
    assert lazy[1].source == "local"


def _one_by_one(positions: list[int], lines: list[int] | None) -> PositionIndex:
    index = PositionIndex()
    for k, position in enumerate(positions):
        index.extend([position], None if lines is None else [lines[k]])
    return index


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.tuples(st.integers(1, 3), st.integers(1, 3)), min_size=1,
                      max_size=60),
       cuts=st.lists(st.integers(1, 20), min_size=1, max_size=8), with_lines=st.booleans())
def test_a_chunk_index_extended_by_blocks_equals_one_by_one(
        steps: list[tuple[int, int]], cuts: list[int], with_lines: bool) -> None:
    """Blocks with gaps (rejected records, multi-line records) map every message to the same
    position and line, in the same runs, as adding the messages one at a time; a dry run's
    index (ends only) has the same count, first and last, and refuses to locate."""
    positions = [sum(p for p, _ in steps[:k + 1]) for k in range(len(steps))]
    lines = [sum(q for _, q in steps[:k + 1]) for k in range(len(steps))] if with_lines \
        else None
    index, start = PositionIndex(), 0
    for cut in cuts * len(positions):
        if start >= len(positions):
            break
        index.extend(positions[start:start + cut],
                     None if lines is None else lines[start:start + cut])
        start += cut
    if start < len(positions):
        index.extend(positions[start:], None if lines is None else lines[start:])
    expected = _one_by_one(positions, lines)
    ends = PositionIndex(ends_only=True)
    for start in range(0, len(positions), cuts[0]):
        ends.extend(positions[start:start + cuts[0]], None)
    assert (ends.count, ends.first, ends.last) == (expected.count, expected.first,
                                                   expected.last)
    with pytest.raises(TypeError):
        ends.locate(1)
    assert index.count == expected.count == len(positions)
    assert [index.locate(i) for i in range(1, index.count + 1)] == \
        [expected.locate(i) for i in range(1, index.count + 1)]
    assert (index.runs, index.position_runs(), index.holes()) == \
        (expected.runs, expected.position_runs(), expected.holes())
