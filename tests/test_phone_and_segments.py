"""Number normalisation and SMS segment counting."""

import pytest

from engine.phone import is_north_american, normalize
from engine.segments import segment_count


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("+1 (415) 555-0100", "+14155550100"), ("+44 20 7183 8750", "+442071838750"),
     (" +1.650.555.0100 ", "+16505550100"), ("4155550100", None), ("+0123", None),
     ("+1415555010x", None), ("", None)],
)
def test_normalize(raw: str, expected: str | None) -> None:
    """Formatting is removed; a number without + or with letters is not E.164."""
    assert normalize(raw) == expected


def test_north_american_only() -> None:
    """+1 with a 10-digit NANP number passes; other countries and short numbers do not."""
    assert is_north_american("+14155550100")
    assert not is_north_american("+442071838750")
    assert not is_north_american("+4088070206")
    assert not is_north_american("+11155550100")


@pytest.mark.parametrize(
    ("text", "segments"),
    [("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3), ("€" * 80, 1),
     ("€" * 81, 2), ("é" * 70, 1), ("ж" * 70, 1), ("ж" * 71, 2), ("😀" * 35, 1)],
)
def test_segment_count(text: str, segments: int) -> None:
    """GSM-7 160/153 (extension characters count twice), UCS-2 70/67 code units."""
    assert segment_count(text) == segments
