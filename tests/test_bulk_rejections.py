"""Local rejections handed over a block at a time (the reader's bulk sink, core.LocalBatch) say
exactly what the one-at-a-time path says: the same rejections, counts by code, first few,
examples, spill bytes and plan output, whichever way the block was read."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.batching.plan import Plan, make_plan
from engine.core.aggregator import Aggregator, MemorySpill
from engine.core.localbatch import LocalBatch, LocalSink, local_payloads
from engine.core.rejections import Rejection
from engine.core.spillruns import Tally
from engine.reading import ReadOptions, read_lines
from engine.reading import lines as line_reader
from engine.reading.phone import check, explain
from engine.reading.plusone import PLUS_ONE_CODES, classify_plus_one, describe_plus_one
from engine.run.spill import FileSpill
from engine.run.suppress import load

SENDER = "+16505550100"


def mixed_rows(n: int, seed: int) -> list[str]:
    """Random +1 numbers (about a third refused); in the second block of rows, national
    spellings, a spreadsheet's rounding and a word among them now and then (the other blocks
    are "+1" and ten digits each, sorted by columns)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        number = f"+1{rng.randrange(2, 10)}{rng.randrange(10**9):09d}"
        if not 9_000 <= i < 15_000:
            pass
        elif i % 997 == 5:
            number = f"({number[2:5]}) {number[5:8]}-{number[8:]}"
        elif i % 1999 == 7:
            number = "6.50555E+09"
        elif i % 4001 == 9:
            number = "nobody"
        rows.append(number)
    return rows


BATCHES: list[int] = []  # the size of each batch the last bulk plan_with was handed


def plan_with(lines: list[bytes], options: ReadOptions, how: str,
              spill: Any = None, keep: int = 20) -> tuple[Plan, Aggregator]:
    """The plan of ``lines`` with the reader's rejections handed over ``how``: "bulk" (a
    block at once), "each" (one Rejection at a time, the sink a plain callable)."""
    aggregator = Aggregator(spill if spill is not None else MemorySpill(), Tally(keep=keep))
    BATCHES.clear()

    def many(batch: LocalBatch) -> None:
        BATCHES.append(len(batch))
        aggregator.add_locals(batch)

    sink = LocalSink(aggregator.add_local, many) if how == "bulk" else aggregator.add_local
    blocks = read_lines(lines, options, sink)
    return make_plan(blocks, aggregator, SENDER, options.batch_text, 50_000_000), aggregator


def seen(plan: Plan, aggregator: Aggregator) -> dict[str, Any]:
    """Everything a user is shown of the rejections: plan JSON, counts, first, examples."""
    return {"plan": plan.as_json(),
            "merged": list(aggregator.merged()),
            "byCode": dict(aggregator.tally.by_code),
            "first": [r.fields() for r in aggregator.tally.first()],
            "examples": {c: r.fields() for c, r in aggregator.tally.examples.items()},
            "warning": aggregator.mostly_rejected(plan.records),
            "local": aggregator.rejected_local}


@pytest.mark.parametrize("fmt", ["csv", "txt", "jsonl"])
@pytest.mark.parametrize("keep", [0, 3, 20, 10_000])
def test_a_block_at_once_shows_what_one_at_a_time_shows(
        fmt: str, keep: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mixed list of 20,000 rows (three blocks and more): the bulk sink, the per-item sink
    and the careful path give the same plan, rejections, counts, first ones and examples."""
    rows = mixed_rows(20_000, seed=keep)
    if fmt == "csv":
        text = ["to", *rows]
    elif fmt == "txt":
        text = rows
    else:
        text = [orjson.dumps({"to": r}).decode() for r in rows]
    lines = [f"{t}\n".encode() for t in text]
    options = ReadOptions(source=f"x.{fmt}", batch_text="Hi")
    bulk = seen(*plan_with(lines, options, "bulk", keep=keep))
    assert len(BATCHES) >= 2  # the bad numbers of most blocks were handed over at once
    each = seen(*plan_with(lines, options, "each", keep=keep))
    monkeypatch.setattr(line_reader, "_bulk_allowed", lambda options: False)
    careful = seen(*plan_with(lines, options, "bulk", keep=keep))
    assert BATCHES == []
    assert bulk == each == careful
    assert 0.28 < bulk["local"] / 20_000 < 0.36
    assert sum(bulk["byCode"].values()) == bulk["local"] == len(bulk["merged"])
    assert {"LCL-INVALID-NUMBER", "LCL-UNREACHABLE-NUMBER"} <= set(bulk["byCode"])
    assert len(bulk["first"]) == min(keep, bulk["local"])


def test_suppressed_numbers_among_bad_ones_are_told_alike() -> None:
    """With --suppress, opted-out and bad numbers in the same blocks: bulk and per-item agree,
    and the opted-out ones name their list."""
    rows = mixed_rows(12_000, seed=5)
    good = [r for r in rows if isinstance(check(r), str)]
    opted = good[::50]
    lines = [f"{t}\n".encode() for t in ["to", *rows]]
    options = ReadOptions(source="x.csv", batch_text="Hi")
    options = ReadOptions(source="x.csv", batch_text="Hi", suppress=load([opted], options))
    bulk = seen(*plan_with(lines, options, "bulk"))
    assert BATCHES
    each = seen(*plan_with(lines, options, "each"))
    assert bulk == each
    assert bulk["byCode"]["LCL-OPTED-OUT"] == len(set(opted))
    described = [orjson.loads(p)["description"] for _, p in bulk["merged"]
                 if b"LCL-OPTED-OUT" in p]
    assert all("suppression list" in d for d in described)


def test_a_spill_written_a_block_at_once_holds_the_same_bytes(tmp_path: Path) -> None:
    """The plan's --json spill: the bulk sink writes the file the per-item sink writes, byte
    for byte, in one run, and reads back the same."""
    lines = [f"{t}\n".encode() for t in ["to", *mixed_rows(20_000, seed=9)]]
    options = ReadOptions(source="x.csv", batch_text="Hi")
    with FileSpill(tmp_path / "a.spill") as bulk, FileSpill(tmp_path / "b.spill") as each:
        plan_a, _ = plan_with(lines, options, "bulk", spill=bulk)
        plan_b, _ = plan_with(lines, options, "each", spill=each)
        assert list(plan_a.merged()) == list(plan_b.merged())
        assert (tmp_path / "a.spill").read_bytes() == (tmp_path / "b.spill").read_bytes()
        assert bulk.runs == each.runs == 1


def test_a_batch_counts_and_keeps_what_adding_each_would() -> None:
    """Tally.add_many over blocks (codes as strings or as a number check's bytes, refused
    records anywhere in them) equals Tally.add of each of their rejections, and a batch's
    rejections are its refused records, in order."""
    rng = random.Random(1)
    names = ("", "A", "B", "C")
    for keep in (0, 1, 5, 50):
        bulk, each = Tally(keep=keep), Tally(keep=keep)
        start = 0
        for _ in range(30):
            kinds = bytes(rng.choice([0, 0, 1, 2, 3]) for _ in range(60))
            as_bytes = rng.random() < 0.5
            refused: list[str] | bytes = kinds if as_bytes else [names[k] for k in kinds]
            first_line = start + 2 if rng.random() < 0.7 else None
            values = [f"+1{start + k:010d}" for k in range(60)]
            batch = LocalBatch(start, first_line, values, refused, str.upper, names)
            made = list(batch.rejections())
            assert len(batch) == len(made) == 60 - kinds.count(0)
            assert [(r.index, r.line, r.to, r.error_code, r.description) for r in made] == [
                (start + k, None if first_line is None else first_line + k, values[k],
                 names[kinds[k]], values[k].upper()) for k in range(60) if kinds[k]]
            bulk.add_many(batch)
            for r in made:
                each.add(r)
            start += 60
        assert bulk.by_code == each.by_code
        assert bulk.first() == each.first()
        assert {c: r.fields() for c, r in bulk.examples.items()} == \
            {c: r.fields() for c, r in each.examples.items()}


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(
    st.integers(0, 10**12), st.one_of(st.none(), st.integers(1, 10**9)),
    st.text(max_size=30), st.sampled_from(["LCL-INVALID-NUMBER", "LCL-X\"\\"]),
    st.text(max_size=80)), max_size=20))
def test_json_made_by_formatting_is_what_orjson_makes(
        rows: list[tuple[int, int | None, str, str, str]]) -> None:
    """local_payloads gives, for any value, code and description (quotes, backslashes,
    control characters, emoji), orjson.dumps of the rejection's JSON, byte for byte."""
    rows = [r for r in rows if not any(0xD800 <= ord(c) <= 0xDFFF for c in r[2] + r[4])]
    made = local_payloads(*zip(*rows, strict=True)) if rows else []
    assert made == [orjson.dumps(Rejection(*row).as_json()) for row in rows]


def test_every_plus_one_number_is_sorted_and_described_as_check_does() -> None:
    """All 10,000 area codes with an exchange digit, each with random last digits: the
    column sort gives check's verdict and the template its very sentence."""
    rng = random.Random(2)
    raws = [f"+1{k:04d}{rng.randrange(10**6):06d}" for k in range(10_000) for _ in range(3)]
    kinds = classify_plus_one(raws)
    assert kinds is not None
    verdicts = [check(raw) for raw in raws]
    assert [PLUS_ONE_CODES[k] for k in kinds] == [
        "" if isinstance(v, str) else v.code for v in verdicts]
    described = describe_plus_one(raws)
    assert described == ["" if isinstance(v, str) else explain(raw)
                         for raw, v in zip(raws, verdicts, strict=True)]


@pytest.mark.parametrize("raws", [
    ["+14155550100", "4155550101"], ["+1415555010", "+141555501000"], ["+14155550100\n"],
    ["+1415555\n0100", "+14155550100"], ["+24155550100"], ["+1415555０100"],
    ["+1415555010a"], [" +14155550100"], ["+14155550100", ""]])
def test_only_plus_one_and_ten_digits_are_sorted_by_columns(raws: list[str]) -> None:
    """Anything else (another shape, a newline inside, a non-ASCII digit) is left to the
    slower sorts: None, never a guess."""
    assert classify_plus_one(raws) is None
    assert describe_plus_one(raws) is None


def test_the_plus_one_module_examples_hold() -> None:
    """The examples in engine/reading/plusone.py's docstrings run as written."""
    import doctest

    import engine.reading.plusone

    result = doctest.testmod(engine.reading.plusone)
    assert (result.failed, result.attempted > 0) == (0, True)
