"""The --dedupe map (engine/reading/firstseen.py): each number's first line, checked against a
plain dict, across shard growth, at the packing edges and with keys that do not pack."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.reading import firstseen
from engine.reading.firstseen import (
    BIG_LINE,
    KEY_LIMIT,
    FirstLines,
    FirstMessages,
    number_key,
    text_digest,
)

DIGEST_OF_HI_ANN = 0x10F67BF915149D5C  # blake2b-64 of b"Hi Ann", little-endian


def reference(pairs: list[tuple[int, int]]) -> list[int | None]:
    """What a dict says for each (key, line) in turn: None when new, else the first line."""
    first: dict[int, int] = {}
    out: list[int | None] = []
    for key, line in pairs:
        out.append(first.get(key))
        first.setdefault(key, line)
    return out


def answers(pairs: list[tuple[int, int]]) -> list[int | None]:
    seen = FirstLines()
    return [seen.first(key, line) for key, line in pairs]


def test_a_new_number_is_kept_and_a_repeat_names_its_first_line() -> None:
    """The first record of a number is new; every later one gets that first line back."""
    seen = FirstLines()
    assert seen.first(4155550100, 7) is None
    assert seen.first(4155550101, 8) is None
    assert seen.first(4155550100, 9) == 7
    assert seen.first(4155550100, 12) == 7
    assert len(seen) == 2


def test_100k_random_numbers_with_repeats_agree_with_a_dict() -> None:
    """100,000 records drawn from 60,000 numbers: the same answer as a dict for every one,
    through every shard's growth."""
    rng = random.Random(20)
    numbers = [rng.randrange(2_000_000_000, 10_000_000_000) for _ in range(60_000)]
    pairs = [(rng.choice(numbers), line) for line in range(1, 100_001)]
    assert answers(pairs) == reference(pairs)
    seen = FirstLines()
    for key, line in pairs:
        seen.first(key, line)
    assert len(seen) == len({key for key, _ in pairs})


def test_every_shard_grows_many_times_and_keeps_every_line() -> None:
    """Sequential numbers (a list in order) fill every shard past several doublings; each
    number still answers with its own first line."""
    seen = FirstLines()
    count = firstseen.SHARDS * 64 * 8  # eight times the starting slots: three doublings
    for i in range(count):
        assert seen.first(2_125_550_000 + i, i) is None
    assert all(seen.first(2_125_550_000 + i, count + i) == i for i in range(count))
    assert len(seen) == count
    assert min(map(len, seen._table._shards)) >= 4 * 64  # every shard doubled at least twice


@pytest.mark.parametrize("key", [0, KEY_LIMIT, KEY_LIMIT + 1, 10**10 + 442079460958, 2**70])
def test_keys_that_do_not_pack_are_remembered_all_the_same(key: int) -> None:
    """A key outside the packed range (0, a number outside +1) has its first line too."""
    seen = FirstLines()
    assert seen.first(key, 3) is None
    assert seen.first(KEY_LIMIT - 1, 4) is None
    assert seen.first(key, 5) == 3
    assert seen.first(KEY_LIMIT - 1, 6) == 4


@pytest.mark.parametrize("line", [0, BIG_LINE - 1, BIG_LINE, BIG_LINE + 1, 2**30, 2**40])
def test_lines_at_and_past_the_2_to_the_30_edge_come_back_exactly(line: int) -> None:
    """A line too large for a slot is kept beside the table and returned unchanged."""
    seen = FirstLines()
    assert seen.first(4155550100, line) is None
    assert seen.first(4155550100, line + 1) == line
    messages = FirstMessages()
    assert messages.first(4155550100, 99, line) is None
    assert messages.first(4155550100, 99, line + 1) == line


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([1, 2, 4155550100, KEY_LIMIT - 1, KEY_LIMIT, 10**12])
                          | st.integers(0, 2**40),
                          st.integers(0, 2**31)), max_size=60))
def test_any_keys_and_lines_agree_with_a_dict(pairs: list[tuple[int, int]]) -> None:
    """Whatever the keys and lines, each answer is the first line a dict kept for its key."""
    assert answers(pairs) == reference(pairs)


def test_message_mode_matches_the_number_exactly_and_the_text_by_digest() -> None:
    """One number with two texts is two messages; each text's repeat names its own first
    line; the same text for another number is new."""
    seen = FirstMessages()
    hi, bye = text_digest("Hi Ann"), text_digest("Hi Bob")
    assert seen.first(4155550100, hi, 1) is None
    assert seen.first(4155550100, bye, 2) is None
    assert seen.first(4155550101, hi, 3) is None
    assert seen.first(4155550100, bye, 4) == 2
    assert seen.first(4155550100, hi, 5) == 1
    assert seen.first(number_key("+442079460958"), hi, 6) is None
    assert seen.first(number_key("+442079460958"), hi, 7) == 6
    assert len(seen) == 4


def test_message_mode_agrees_with_a_dict_of_number_and_text() -> None:
    """50,000 records over few numbers and texts: the same answers as a (number, text) dict,
    with the several texts of one number kept apart."""
    rng = random.Random(7)
    numbers = [rng.randrange(2_000_000_000, 10_000_000_000) for _ in range(5_000)]
    texts = [f"Hi {name}" for name in ("Ann", "Bob", "Cy")] + [None]
    records = [(rng.choice(numbers), rng.choice(texts), line) for line in range(50_000)]
    seen = FirstMessages()
    first: dict[tuple[int, str | None], int] = {}
    for number, text, line in records:
        expected = first.setdefault((number, text), line)
        got = seen.first(number, text_digest(text), line)
        assert got == (None if expected == line else expected)


def test_number_keys_are_distinct_for_distinct_numbers() -> None:
    """A North American number is its national number (it packs); any other lands above every
    national number, so a short foreign number never meets a North American one."""
    assert number_key("+14155550100") == 4155550100 < 10**10
    assert number_key("+4155550100") == 10**10 + 4155550100
    assert number_key("+1415555010") != number_key("+14155550100")
    assert number_key("+1415555010") >= 10**10


def test_a_text_digest_is_the_same_in_every_process() -> None:
    """The digest is fixed bytes (blake2b), not the per-process str hash, so a resume decides
    as the run did."""
    assert text_digest("Hi Ann") == DIGEST_OF_HI_ANN
    assert text_digest(None) == text_digest("") != text_digest("Hi")


def test_message_mode_keeps_each_text_digest_through_growth() -> None:
    """Past several doublings of every shard, each number still knows its first text: the
    same text is a repeat of its line, another text is new."""
    seen = FirstMessages()
    count = firstseen.SHARDS * 64 * 8
    for i in range(count):
        assert seen.first(2_125_550_000 + i, i * 7919, i) is None
    assert min(map(len, seen._table._shards)) >= 4 * 64
    assert all(seen.first(2_125_550_000 + i, i * 7919, count + i) == i for i in range(count))
    assert seen.first(2_125_550_000, 1, count) is None
    assert len(seen) == count + 1
