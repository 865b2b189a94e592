"""The chunk index (engine/core/chunkindex.py): every message located as a plain list would,
its runs, holes and digest runs the same however the messages arrive, and a few bytes a run
on a list with a rejected row every few rows."""

from __future__ import annotations

import random
from array import array

import pytest

from engine.core.chunkindex import PositionIndex


def _reference_runs(positions: list[int]) -> list[int]:
    out: list[int] = []
    for p in positions:
        if out and out[-2] + out[-1] == p:
            out[-1] += 1
        else:
            out += [p, 1]
    return out


def _messages(rng: random.Random, n: int, lines: str) -> tuple[list[int], list[int] | None]:
    """Increasing positions with gaps (rejected rows), and lines that follow them (a CSV),
    stray from them now and then (a quoted field over two lines), or are absent."""
    positions, line, at = [], [], 0
    drift = 2
    for _ in range(n):
        at += 1 + (rng.randrange(5) if rng.random() < 0.3 else 0)
        if rng.random() < 0.01:
            drift += rng.randrange(1, 4)
        positions.append(at)
        line.append(at + drift)
    return positions, (line if lines == "lines" else None)


@pytest.mark.parametrize("lines", ["lines", "none"])
@pytest.mark.parametrize("seed", range(4))
def test_every_message_is_located_as_a_plain_list_would(seed: int, lines: str) -> None:
    """Fed in pieces of any size, the index gives each message's position and line, its
    first and last, its holes and its position runs exactly as plain lists would."""
    rng = random.Random(seed)
    positions, line_list = _messages(rng, 5000, lines)
    index = PositionIndex()
    at = 0
    while at < len(positions):
        step = rng.choice([1, 2, 7, 64, 300, 1000])
        index.extend(positions[at:at + step],
                     line_list[at:at + step] if line_list is not None else None)
        at += step
    assert index.count == len(positions)
    assert (index.first, index.last) == (positions[0], positions[-1])
    no_lines: list[int | None] = [None] * len(positions)
    expected = list(zip(positions, line_list if line_list is not None else no_lines,
                        strict=True))
    for k in [*rng.sample(range(1, len(positions) + 1), 500), 1, len(positions)]:
        assert index.locate(k) == expected[k - 1]  # in any order
    assert [index.locate(k) for k in range(1, len(positions) + 1)] == expected  # in order
    assert index.position_runs() == array("q", _reference_runs(positions))
    held = set(positions)
    gaps = [p for p in range(positions[0], positions[-1]) if p not in held]
    assert [p for a, b in index.holes() for p in range(a, b + 1)] == gaps
    with pytest.raises(IndexError):
        index.locate(len(positions) + 1)


def test_a_run_of_a_list_full_of_bad_rows_takes_a_few_bytes() -> None:
    """100,000 messages, a rejected row before every third one (CSV lines): the runs take
    under 4 bytes each, where three 64-bit integers took 24, counted not timed."""
    positions = [k + k // 3 for k in range(100_000)]
    index = PositionIndex()
    for a in range(0, len(positions), 8192):
        piece = positions[a:a + 8192]
        index.extend(piece, [p + 2 for p in piece])
    assert index.runs == 33_334
    assert index.nbytes < 4 * index.runs


def test_lines_that_appear_and_vanish_are_kept_apart() -> None:
    """Messages without a line after messages with one (and back) keep their own."""
    index = PositionIndex()
    index.extend([0, 1], [2, 3])
    index.extend([2, 3], None)
    index.extend([4], [9])
    assert [index.locate(k) for k in range(1, 6)] == [(0, 2), (1, 3), (2, None), (3, None),
                                                       (4, 9)]
    assert index.position_runs() == array("q", [0, 5])


def test_a_dry_run_s_index_keeps_only_its_ends() -> None:
    """An ends-only index says how many messages and where they start and end, nothing
    more."""
    index = PositionIndex(ends_only=True)
    index.extend([3, 5, 9], None)
    index.extend([12], None)
    assert (index.count, index.first, index.last) == (4, 3, 12)
    with pytest.raises(TypeError):
        index.locate(1)
