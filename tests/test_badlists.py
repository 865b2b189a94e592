"""The benchmark lists from the bad end (benchmarks/badlists.py) are what they say they are."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from benchmarks.badlists import quoted_personal_csv, random_nanp_csv
from engine.core.rejections import Rejection
from engine.reading import ReadOptions, read_lines
from engine.reading.segments import is_gsm7


def test_random_plus_one_numbers_are_a_third_rejected_and_seeded(tmp_path: Path) -> None:
    """The same seed writes the same file; about 31 % of its numbers are refused by the North
    American check, for an exchange or area code no one can text."""
    first, again, other = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    assert random_nanp_csv(first, 20_000, seed=3) == 20_000
    random_nanp_csv(again, 20_000, seed=3)
    random_nanp_csv(other, 20_000, seed=4)
    assert first.read_bytes() == again.read_bytes() != other.read_bytes()
    rejected: list[Rejection] = []
    with first.open("rb") as handle:
        accepted = sum(map(len, read_lines(handle, ReadOptions(source=str(first),
                                                               batch_text="Hi"),
                                           rejected.append)))
    assert accepted + len(rejected) == 20_000
    assert 0.28 < len(rejected) / 20_000 < 0.34
    assert set(Counter(r.error_code for r in rejected)) == {"LCL-INVALID-NUMBER",
                                                            "LCL-UNREACHABLE-NUMBER"}


def test_quoted_personal_texts_are_quoted_doubled_and_a_fifth_ucs2(tmp_path: Path) -> None:
    """Every text is quoted and holds a comma, half hold doubled quotes, a fifth need UCS-2,
    none is over 300 characters, and every row is accepted."""
    path = tmp_path / "q.csv"
    assert quoted_personal_csv(path, 5_000, seed=3) == 5_000
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    assert all(line.split(",", 1)[1].startswith('"') for line in lines)
    assert sum('""' in line for line in lines) == 2_500
    texts = [row[1] for row in csv.reader(lines)]
    assert all("," in t and len(t) <= 300 for t in texts)
    assert sum(not is_gsm7(t) for t in texts) == 1_000
    rejected: list[Rejection] = []
    with path.open("rb") as handle:
        blocks = list(read_lines(handle, ReadOptions(source=str(path)), rejected.append))
    assert rejected == []
    assert [t for b in blocks for t in (b.texts or [])] == texts
