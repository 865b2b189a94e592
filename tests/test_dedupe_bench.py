"""The --dedupe benchmark (benchmarks/dedupe_map.py) measures what docs/benchmarks.md says:
its keys are distinct, and its list holds only distinct numbers the reader accepts."""

from __future__ import annotations

from pathlib import Path

from benchmarks.dedupe_map import national, write_list
from engine.core.rejections import Rejection
from engine.reading import ReadOptions, read_lines


def test_the_keys_are_distinct_national_numbers() -> None:
    """N inserts are N distinct recipients, all ten digits."""
    keys = [national(i) for i in range(1, 200_001)]
    assert len(set(keys)) == len(keys)
    assert all(2_000_000_000 <= k < 10_000_000_000 for k in keys)


def test_the_plan_list_is_all_distinct_textable_numbers(tmp_path: Path) -> None:
    """Every row of the list the plan figures were taken on is accepted by --dedupe."""
    path = tmp_path / "list.csv"
    write_list(20_000, str(path))
    rejected: list[Rejection] = []
    with path.open("rb") as lines:
        blocks = list(read_lines(lines, ReadOptions(source=str(path), batch_text="hi",
                                                    dedupe="number"), rejected.append))
    assert rejected == []
    assert sum(map(len, blocks)) == 20_000
