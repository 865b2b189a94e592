"""The compact set of locally rejected positions a folded journal keeps."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from engine.core.positions import Positions


@given(st.lists(st.integers(0, 200), max_size=300))
def test_any_order_and_repeats_give_the_set_of_the_positions(given_positions: list[int]
                                                              ) -> None:
    """Built from positions in any order, repeats included: iteration is the sorted set,
    membership and size agree with it everywhere."""
    held = Positions.of(given_positions)
    expected = set(given_positions)
    assert list(held) == sorted(expected)
    assert len(held) == len(expected)
    assert [p in held for p in range(-3, 205)] == [p in expected for p in range(-3, 205)]


@given(st.lists(st.integers(0, 120), max_size=150), st.integers(-5, 125),
       st.integers(-5, 125))
def test_first_missing_is_the_first_position_not_held(given_positions: list[int], first: int,
                                                      last: int) -> None:
    """The first position of a range outside the set, or None when the set covers it."""
    expected = next((p for p in range(first, last + 1) if p not in set(given_positions)), None)
    assert Positions.of(given_positions).first_missing(first, last) == expected


def test_runs_are_held_as_ranges_and_lone_positions_at_8_bytes() -> None:
    """A run of a million positions costs one range (16 bytes); scattered ones 8 bytes each;
    the ranges are the maximal runs, a lone position a run of one."""
    run = Positions.of(range(5, 1_000_005))
    assert len(run) == 1_000_000
    assert run.nbytes == 16
    assert 4 not in run
    assert 5 in run
    assert 1_000_004 in run
    assert 1_000_005 not in run
    scattered = Positions.of(range(0, 2_000, 2))
    assert scattered.nbytes == 8 * len(scattered) == 8_000
    mixed = Positions.of([9, 3, 4, 5, 12, 7, 8, 3, 20])
    assert list(mixed.ranges()) == [(3, 5), (7, 9), (12, 12), (20, 20)]
    assert not Positions.of([])
    assert list(Positions.of([]).ranges()) == []
    assert 3.5 not in mixed
    assert 1.5 not in Positions.of([1])


def test_a_set_made_in_descending_order_is_the_same_as_in_ascending() -> None:
    """A journal written out of order (never by a2p, which writes in input order) folds to
    the very same ranges."""
    down = Positions.of(range(999, -1, -1))
    assert list(down.ranges()) == [(0, 999)]
    assert down == Positions.of(range(1000))
