"""What the consent gate keeps of the positions it rejected (engine/run/gate.py,
engine/core/positions.py GrowingPositions): a few bytes each, however many, so a list with a
million opted-out recipients does not double a send's memory; and blocks read again still lose
every one of them (cold review of issue 21, M1)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

from engine.core.consent import OptOut
from engine.core.positions import GrowingPositions
from engine.reading import Block
from engine.reading.consentset import ConsentSet
from engine.run.gate import Gate

ME = "+16505550100"
SUPPRESSED = 1_000_000


def number(k: int) -> str:
    return f"+1415{k:07d}"


def blocks(count: int, size: int = 10_000) -> Iterator[Block]:
    for start in range(0, count, size):
        tos = [number(k) for k in range(start, min(count, start + size))]
        yield Block(tos, None, range(start, start + len(tos)), None)


def test_a_million_suppressed_positions_cost_a_few_megabytes() -> None:
    """The gate's record of a million positions it rejected (every other one of a list, in
    the order it meets them) holds under 6 MiB (a set of ints held 63 MiB), and blocks read
    again lose exactly those positions."""
    gate = Gate(ConsentSet([]), lambda r: None)
    tracemalloc.start()
    try:
        add = gate.rejected.add
        for position in range(0, 2 * SUPPRESSED, 2):
            add(position)
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(gate.rejected) == SUPPRESSED
    assert held < 6 * 2**20
    again = [p for b in gate.drop(blocks(20_000)) for p in b.positions]
    assert again == list(range(1, 20_000, 2))
    assert 2 * SUPPRESSED - 2 in gate.rejected
    assert 2 * SUPPRESSED - 1 not in gate.rejected


def test_the_gate_records_what_it_suppresses_and_drops_it_when_read_again() -> None:
    """Recipients suppressed by consent records while a list is read (and one screened in a
    chunk caught in flight) are dropped from the list read again, and only they."""
    consents = ConsentSet(OptOut(number(k), ME, "2026-01-01T00:00:00Z")
                          for k in range(5, 30_000, 7))
    suppressed: list[int] = []
    gate = Gate(consents, lambda r: suppressed.append(r.index))
    kept = [p for b in gate.apply(blocks(30_000, 4_096)) for p in b.positions]
    assert suppressed == list(range(5, 30_000, 7))
    assert kept == [p for p in range(30_000) if p % 7 != 5]
    gate.screened.add(3)
    again = [p for b in gate.drop(blocks(30_000, 1_000)) for p in b.positions]
    assert again == [p for p in kept if p != 3]


def test_growing_positions_answer_as_a_set_whatever_the_order() -> None:
    """Added ascending, below the last, again, or past 2**32: each is a member once, the
    rest are not, and it iterates in order."""
    grown = GrowingPositions()
    for position in (3, 7, 8, 20, 5, 7, 0, 1 << 33, 4):
        grown.add(position)
    assert set(grown) == {0, 3, 4, 5, 7, 8, 20, 1 << 33}
    assert list(grown) == sorted(grown)
    assert len(grown) == 8
    assert all(p not in grown for p in (1, 2, 6, 9, 19, 21, 1 << 32, -1))
