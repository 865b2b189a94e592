"""SMS segments, encodings and the cost estimate, against a naive segmenter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.reading.segments import (
    GSM7,
    UCS2,
    count_many,
    describe_char,
    encoding_of,
    estimate_cost,
    is_gsm7,
    segment_count,
    ucs2_forcing,
)

BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
         "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
EXTENDED = "^{}\\[~]|€\f"


def naive_segments(text: str) -> int:
    """Encode to units, then cut whole characters into segments one by one (the spec's way)."""
    if all(c in BASIC or c in EXTENDED for c in text):
        units = [["ESC", c] if c in EXTENDED else [c] for c in text]
        single, multi = 160, 153
    else:
        encoded = [c.encode("utf-16-be") for c in text]
        units = [[e[i:i + 2].hex() for i in range(0, len(e), 2)] for e in encoded]
        single, multi = 70, 67
    if sum(map(len, units)) <= single:
        return 1
    segments: list[list[str]] = [[]]
    for char in units:
        if len(segments[-1]) + len(char) > multi:
            segments.append([])
        segments[-1].extend(char)
    return len(segments)


@pytest.mark.parametrize(
    ("text", "segments"),
    [("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3), ("€" * 80, 1),
     ("€" * 81, 2), ("é" * 70, 1), ("ж" * 70, 1), ("ж" * 71, 2), ("😀" * 35, 1),
     ("a" * 152 + "€" + "a" * 152, 3), ("a" * 159 + "€", 2), ("ж" * 66 + "😀" + "ж" * 60, 2),
     ("ж" * 66 + "😀" + "ж" * 66, 3), ("", 1)],
)
def test_segment_count(text: str, segments: int) -> None:
    """GSM-7 160/153, UCS-2 70/67, and no character split across a segment boundary."""
    assert segment_count(text) == segments


@given(st.text(alphabet=st.sampled_from("a€^{" + "ж😀"), max_size=500))
def test_segment_count_matches_naive_segmenter(text: str) -> None:
    """Random texts around every boundary cost what a naive segment-by-segment cut says."""
    assert segment_count(text) == naive_segments(text)


@given(st.text(alphabet=st.sampled_from(BASIC + EXTENDED), min_size=140, max_size=480))
def test_gsm7_texts_match_naive_segmenter(text: str) -> None:
    """Long all-GSM texts with extension characters count like the naive cut."""
    assert segment_count(text) == naive_segments(text)


def test_encoding_names_the_characters_that_force_ucs2() -> None:
    """A curly quote or an emoji makes a text UCS-2, and the report says which ones."""
    report = encoding_of("Don’t miss our sale 😀 “today” ’")
    assert report.name == UCS2
    assert report.forcing == ("’", "😀", "“", "”")
    assert describe_char("’") == "'’' (U+2019)"
    plain = encoding_of("Store opens at 9 [€5 off]")
    assert (plain.name, plain.forcing, plain.segments) == (GSM7, (), 1)


def test_forcing_characters_are_capped() -> None:
    """At most ``limit`` distinct forcing characters are listed, first seen first."""
    assert ucs2_forcing("абвгдеё", limit=3) == ("а", "б", "в")
    assert not is_gsm7("а")


def test_one_curly_quote_triples_the_cost() -> None:
    """The bill shock case: 150 GSM characters are one segment, with one curly quote three."""
    text = "a" * 149 + "’"
    assert segment_count(text.replace("’", "'")) == 1
    assert segment_count(text) == 3
    assert estimate_cost(3 * 1_000, 0.0079) == 23.7


def test_docstring_examples_hold() -> None:
    """The examples in engine/reading/segments.py's docstrings are true."""
    import doctest

    import engine.reading.segments

    result = doctest.testmod(engine.reading.segments)
    assert (result.failed, result.attempted > 0) == (0, True)


@given(st.lists(st.text(alphabet=st.sampled_from("ab €^{жé😀’"), max_size=400), max_size=20))
def test_count_many_agrees_with_segment_count(texts: list[str]) -> None:
    """The block count equals segment_count and the alphabet check text by text."""
    assert count_many(texts) == ([segment_count(t) for t in texts],
                                 [not is_gsm7(t) for t in texts])


@given(st.lists(st.text(alphabet=st.sampled_from("ab .xжéè😀’"), max_size=400), max_size=20))
def test_count_many_agrees_on_blocks_without_escape_characters(texts: list[str]) -> None:
    """The same on blocks the ASCII shortcut takes (no {, ^, € in any text)."""
    assert count_many(texts) == ([segment_count(t) for t in texts],
                                 [not is_gsm7(t) for t in texts])


@given(st.lists(st.text(alphabet=st.sampled_from("aé€ж😀"), min_size=30, max_size=1100),
                max_size=8))
def test_count_many_agrees_on_long_texts_of_emoji_and_accents(texts: list[str]) -> None:
    """Long UCS-2 texts full of surrogate pairs (up to 2,200 code units) and accented GSM-7
    ones beside escaped characters count as segment_count counts them, text by text."""
    assert count_many(texts) == ([segment_count(t) for t in texts],
                                 [not is_gsm7(t) for t in texts])
