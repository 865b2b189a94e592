"""The consent gate (engine/run/consent.py): suppressed recipients leave the blocks as
LCL-OPTED-OUT rejections naming consent, handed on with the reader's own rejections in
position order; blocks read again drop what a gate rejected before."""

from __future__ import annotations

from engine.core.consent import CONSENT_MARK, OptOut
from engine.core.rejections import INVALID_NUMBER, OPTED_OUT, Rejection
from engine.reading import Block
from engine.run.consent import ConsentSet, Gate

ME = "+16505550100"


def block(start: int, numbers: list[str]) -> Block:
    return Block(numbers, None, list(range(start, start + len(numbers))),
                 [p + 2 for p in range(start, start + len(numbers))])


def test_gate_takes_out_suppressed_and_hands_on_in_order() -> None:
    """The reader's rejections and the gate's come out by position, the block loses the
    suppressed recipient, and the rejection names consent, the sender and the time."""
    out: list[Rejection] = []
    consents = ConsentSet([OptOut("+14155550101", ME, "2026-01-01T00:00:00Z")])
    gate = Gate(consents, out.append)

    def blocks() -> list[Block]:
        # the reader rejects position 3 while reading the first block, 6 after it
        gate.hold(Rejection(3, 5, "x", INVALID_NUMBER, "bad"))
        first = block(0, ["+14155550100", "+14155550101", "+14155550102"])
        return [first]

    kept = list(gate.apply(blocks()))
    gate.hold(Rejection(6, 8, "y", INVALID_NUMBER, "bad"))
    gate.release()
    assert [b.tos for b in kept] == [["+14155550100", "+14155550102"]]
    assert [r.index for r in out] == [1, 3, 6]
    assert out[0].error_code == OPTED_OUT
    assert CONSENT_MARK in out[0].description
    assert ME in out[0].description
    assert "2026-01-01T00:00:00Z" in out[0].description
    assert gate.rejected == {1}


def test_drop_takes_out_what_was_rejected_before() -> None:
    """Blocks read again (a resume, a lost answer's chunk) lose the positions a gate or the
    journal rejected, so they are the chunks as they were cut."""
    gate = Gate(ConsentSet([]), lambda r: None, known=frozenset({2}))
    gate.rejected.add(0)
    again = list(gate.drop([block(0, ["+14155550100", "+14155550101", "+14155550102",
                                      "+14155550103"])]))
    assert [b.positions for b in again] == [[1, 3]]
    assert next(iter(gate.drop([block(10, ["+14155550110"])]))).positions == [10]
