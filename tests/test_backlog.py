"""The queue the rejections found on re-reading the input wait in until merged into order."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from engine.core.rejections import SERVER, Rejection
from engine.results.backlog import Backlog
from engine.results.walk import in_order
from tests.test_outcomerows import blocks_around


def bad(index: int) -> Rejection:
    return Rejection(index, index + 2, f'"{index}",é', "LCL-INVALID-NUMBER", "not a number")


def test_what_waits_comes_back_once_in_order_from_memory_or_a_file(tmp_path: Path) -> None:
    """Past its limit the queue goes on in a file: drained, it gives every rejection once,
    as appended, every field intact, then starts again empty."""
    backlog = Backlog(tmp_path, limit=3)
    for index in range(10):
        backlog.append(bad(index))
    assert backlog.spilled == 10
    assert list(backlog.drain()) == [bad(i) for i in range(10)]
    assert list(backlog.drain()) == []
    backlog.append(bad(10))
    kept = Rejection(11, None, None, "X", "y", "b1", SERVER)
    backlog.append(kept)
    assert list(backlog.drain()) == [bad(10), kept]
    assert backlog.spilled == 10
    backlog.close()


@given(st.lists(st.booleans(), max_size=300), st.integers(1, 50), st.integers(0, 20))
def test_in_order_merges_a_spilling_backlog_back_into_input_order(
        bad_rows: list[bool], size: int, limit: int) -> None:
    """With the reader's rejections in a queue that spills to a file, accepted records and
    rejections still come out once each, by input position, the rejections as read."""
    backlog = Backlog(limit=limit)

    records = list(in_order(blocks_around(bad_rows, size, lambda k: backlog.append(bad(k))),
                            backlog))
    assert [r.position for r in records] == list(range(len(bad_rows)))
    assert [r.rejection for r in records if r.rejection is not None] == \
        [bad(p) for p, is_bad in enumerate(bad_rows) if is_bad]
