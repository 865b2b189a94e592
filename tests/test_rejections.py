"""The aggregator: server indexes map back to input positions, in any order, and hostile answers
never put a wrong position in the report."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.chunkindex import PositionIndex
from engine.core.rejections import Aggregator, Rejection, mostly_rejected
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
