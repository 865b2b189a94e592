"""The dry run as a cost preview: segments, UCS-2 and why, estimates per chunk and in total."""

from __future__ import annotations

from typing import Any

import pytest

from engine.batching.plan import Plan, make_plan
from engine.core.aggregator import Aggregator
from engine.reading import ReadOptions, read_lines
from engine.reading.segments import segment_count

SENDER = "+16505550100"


def plan_of(lines: list[str], text: str | None = None, max_messages: int | None = None,
            price: float = 0.01, **options: Any) -> Plan:
    """The plan of a CSV's lines; ``options`` are ReadOptions fields."""
    aggregator = Aggregator()
    raw = [(line + "\n").encode() for line in lines]
    blocks = read_lines(raw, ReadOptions(source="x.csv", batch_text=text, **options),
                        aggregator.add_local)
    return make_plan(blocks, aggregator, SENDER, text, 50_000_000, max_messages, price)


def test_segments_and_cost_per_chunk_and_in_total() -> None:
    """Each chunk counts its own messages' segments; the total is their sum, priced."""
    texts = ["Hi", "x" * 161, "Grüße 😀", "a" * 152 + "€" + "a" * 152, "ok"] * 30
    lines = ["to,text", *(f'+1415{2_000_000 + i},"{t}"' for i, t in enumerate(texts))]
    plan = plan_of(lines, max_messages=7)
    expected = [segment_count(t) for t in texts]
    assert [c.segments for c in plan.chunks] == [sum(expected[i:i + 7])
                                                 for i in range(0, len(texts), 7)]
    assert plan.segments == sum(expected)
    assert plan.ucs2 == 30
    assert plan.cost == pytest.approx(sum(expected) * 0.01)
    assert plan.as_json()["chunks"][0]["estimatedCost"] == pytest.approx(sum(expected[:7]) * 0.01)


def test_ucs2_is_explained_with_the_character_and_its_line() -> None:
    """The plan names the first characters that force UCS-2 and the line each first occurs on."""
    lines = ["to,text", "+14155550100,Plain", "+14155550101,It’s here", "+14155550102,😀 ’"]
    plan = plan_of(lines)
    assert [(f.char, f.line) for f in plan.forcing] == [("’", 3), ("😀", 4)]
    assert plan.as_json()["ucs2Because"][0] == {"char": "’", "codePoint": "U+2019", "line": 3,
                                                "index": 1}
    assert plan.ucs2 == 2
    assert plan.segments == 3


def test_a_ucs2_batch_text_is_counted_once_and_warned_about() -> None:
    """A curly quote in the batch text: every message is UCS-2, and a warning says what it costs."""
    text = "We’re open " + "x" * 70
    plan = plan_of([f"+1415{2_000_000 + i}" for i in range(10_000)], text=text, format="lines")
    assert plan.segments == 10_000 * 2
    assert plan.ucs2 == 10_000
    assert any("batch text is UCS-2 because of '’' (U+2019)" in w and "GSM-7 would cost 1" in w
               for w in plan.warnings)


def test_a_mostly_rejected_list_is_warned_about() -> None:
    """More than half rejected: the plan warns, naming the commonest reason."""
    plan = plan_of(["+44 20 7183 8750", "+44 20 7183 8751", "+14155550100"], text="Hi",
                   format="lines")
    assert plan.warnings
    assert "LCL-NOT-NORTH-AMERICAN" in plan.warnings[0]
    assert plan.as_json()["warnings"] == plan.warnings


def test_the_plan_counts_its_rejections_by_reason_commonest_first() -> None:
    """How many are bad and why: the count of each local rejection code, largest first."""
    plan = plan_of(["+44 20 7183 8750", "bad", "+44 20 7183 8751", "+14155550100",
                    "+44 20 7183 8752"], text="Hi", format="lines")
    assert list(plan.as_json()["rejectedByCode"].items()) == [
        ("LCL-NOT-NORTH-AMERICAN", 3), ("LCL-INVALID-NUMBER", 1)]


@pytest.mark.parametrize(("max_messages", "max_bytes"), [(997, 50_000_000), (None, 30_000)])
def test_each_chunk_gets_its_own_segments_across_many_blocks_and_rejections(
        max_messages: int | None, max_bytes: int) -> None:
    """20,000 rows, a third bad, texts of 1 to 3 segments, chunks cut by count or by bytes
    inside and between the reader's blocks: each chunk's segments are exactly those of the
    valid records in its range."""
    texts = {i: "x" * (100 + (i * 37) % 300) + ("’" if i % 11 == 0 else "")
             for i in range(20_000)}
    lines = ["to,text", *(f"+1415{2_000_000 + i},{texts[i]}" if i % 3 else f"bad{i},{texts[i]}"
                          for i in range(20_000))]
    aggregator = Aggregator()
    raw = [(line + "\n").encode() for line in lines]
    blocks = read_lines(raw, ReadOptions(source="x.csv"), aggregator.add_local)
    plan = make_plan(blocks, aggregator, SENDER, None, max_bytes, max_messages, 0.01)
    assert len(plan.chunks) > 10
    for c in plan.chunks:
        valid = [i for i in range(c.first_position, c.last_position + 1) if i % 3]
        assert c.recipients == len(valid)
        assert c.segments == sum(segment_count(texts[i]) for i in valid)
        assert c.ucs2 == sum(1 for i in valid if i % 11 == 0)
    assert plan.rejected == len(range(0, 20_000, 3))


@pytest.mark.parametrize("extra", ["", "{", "^", "~", "|"])
def test_segments_of_a_quoted_block_with_or_without_escaped_characters(extra: str) -> None:
    """A block of quoted ASCII texts counted in bulk: with an extension-table character in one
    (two septets) it costs what segment_count says, as without."""
    texts = [f"Hi, number {i:03d} " + "x" * 145 for i in range(300)]  # 160 characters
    texts[123] = texts[123][:-1] + extra if extra else texts[123]
    lines = ["to,text", *(f'+1415{2_000_000 + i},"{t}"' for i, t in enumerate(texts))]
    plan = plan_of(lines)
    assert plan.segments == sum(segment_count(t) for t in texts)
    assert plan.segments == 300 + (1 if extra else 0)
