"""The suppression set (engine/reading/suppressed.py): exact membership, the first line of a
number listed twice, the file a line belongs to, and a digest that ignores order."""

from __future__ import annotations

import random

import pytest

from engine.reading.suppressed import Suppressed, SuppressedBuilder


def build(files: dict[str, list[str]]) -> Suppressed:
    builder = SuppressedBuilder()
    for path, numbers in files.items():
        builder.start_file(path)
        for line, number in enumerate(numbers, 1):
            builder.add(number, line)
        builder.end_file()
    return builder.build()


def random_numbers(rng: random.Random, n: int) -> list[str]:
    return [f"+1{rng.randrange(2_000_000_000, 9_999_999_999)}" for _ in range(n)]


def test_membership_matches_a_python_set_for_100k_random_numbers() -> None:
    """Every one of 100,000 random numbers is in the set exactly when a Python set holds it,
    one by one and a block at a time."""
    rng = random.Random(21)
    listed = random_numbers(rng, 100_000)
    suppressed, expected = build({"a.txt": listed}), set(listed)
    probes = listed[::3] + random_numbers(rng, 100_000)
    rng.shuffle(probes)
    assert [p in suppressed for p in probes] == [p in expected for p in probes]
    for start in range(0, len(probes), 8192):
        block = probes[start:start + 8192]
        assert suppressed.hits(block) == [i for i, p in enumerate(block) if p in expected]
    assert len(suppressed) == len(expected)


def test_a_number_listed_twice_names_its_first_file_and_line() -> None:
    """A number in two files (and twice in one) is described by the first file and line."""
    suppressed = build({"crm.csv": ["+14155550100", "+14155550101", "+14155550100"],
                        "dnc.txt": ["+14155550102", "+14155550101"]})
    assert suppressed.where("+14155550100") == ("crm.csv", 1)
    assert suppressed.where("+14155550101") == ("crm.csv", 2)
    assert suppressed.where("+14155550102") == ("dnc.txt", 1)
    assert suppressed.where("+14155550103") is None
    assert len(suppressed) == 3
    assert suppressed.describe("+14155550102", "(415) 555-0102") == (
        "'(415) 555-0102' (+14155550102) is on the suppression list dnc.txt (line 1); it is "
        "never sent")


def test_an_empty_file_between_two_keeps_the_lines_of_the_next() -> None:
    """Lines are numbered per file even when a file between holds nothing."""
    suppressed = build({"a.txt": ["+14155550100"] * 4, "empty.txt": [],
                        "b.txt": ["+14155550199"]})
    assert suppressed.where("+14155550199") == ("b.txt", 1)


def test_numbers_outside_north_america_are_held_too() -> None:
    """With --any-country a suppression list may hold +44 numbers: they are matched exactly."""
    suppressed = build({"a.txt": ["+442079460958", "+14155550100"]})
    assert "+442079460958" in suppressed
    assert "+442079460959" not in suppressed
    assert suppressed.hits(["+442079460958", "+14155550100", "+14155550101"]) == [0, 1]


def test_the_digest_depends_on_the_numbers_not_their_order_or_repeats() -> None:
    """A list reordered or with repeats digests the same; one number more does not."""
    numbers = random_numbers(random.Random(3), 1000)
    one = build({"a": numbers}).sources[0]
    two = build({"a": [*reversed(numbers), numbers[5]]}).sources[0]
    three = build({"a": [*numbers, "+14155550100"]}).sources[0]
    assert one.digest == two.digest
    assert one.numbers == two.numbers == 1000
    assert three.digest != one.digest


def test_a_million_numbers_cost_about_eight_bytes_each() -> None:
    """The set of 1,000,000 numbers holds about 8.5 MB (8 bytes a number and a 256 KB index)."""
    rng = random.Random(5)
    builder = SuppressedBuilder()
    builder.start_file("big.txt")
    for line in range(1, 1_000_001):
        builder.add_key(rng.randrange(2_000_000_000, 9_999_999_999), line)
    builder.end_file()
    suppressed = builder.build()
    assert suppressed.nbytes() / len(suppressed) < 9


def test_a_block_added_at_once_equals_its_numbers_added_one_by_one() -> None:
    """add_block (the suppression file reader's way) builds the set add builds, lines and
    all, for +1 blocks and mixed ones."""
    rng = random.Random(9)
    blocks = [random_numbers(rng, 500), [*random_numbers(rng, 3), "+442079460958"]]
    one, many = SuppressedBuilder(), SuppressedBuilder()
    for builder in (one, many):
        builder.start_file("a.txt")
    line = 1
    for block in blocks:
        lines = range(line, line + len(block))
        one.add_block(block, lines)
        for number, at in zip(block, lines, strict=True):
            many.add(number, at)
        line += len(block)
    assert one.end_file() == many.end_file()
    built, expected = one.build(), many.build()
    for number in (n for block in blocks for n in block):
        assert built.where(number) == expected.where(number)


def test_a_number_whose_key_is_the_sentinels_is_not_suppressed_unless_listed() -> None:
    """The array ends in a sentinel slot; the one number whose key would read it (a short
    +7 number) is found only when listed."""
    from engine.reading.firstseen import KEY_LIMIT, NANP_KEYS

    odd = f"+{KEY_LIMIT - 1 - NANP_KEYS}"
    assert odd not in build({"a.txt": ["+14155550100"]})
    listed = build({"a.txt": [odd]})
    assert odd in listed
    assert listed.where(odd) == ("a.txt", 1)


def test_a_set_written_out_reads_back_the_same_and_a_damaged_copy_is_refused() -> None:
    """``encode``/``decode`` (the copy a run keeps beside its journal): the same members,
    files, lines, counts and digests, numbers outside +1 too, about 8 bytes a number; a copy
    cut short, altered or of another format is refused (ValueError), never half read."""
    rng = random.Random(5)
    first, second = random_numbers(rng, 20_000), ["+442079460958", "+14155550100"]
    suppressed = build({"a.txt": first, "b.csv": second})
    data = b"".join(suppressed.encode())
    assert len(data) < 8 * len(suppressed) + 8 + 1024
    again = Suppressed.decode(data)
    probes = first[::7] + second + random_numbers(rng, 5_000)
    assert [again.where(p) for p in probes] == [suppressed.where(p) for p in probes]
    assert again.hits(probes) == suppressed.hits(probes)
    assert again.as_header() == suppressed.as_header()
    assert len(again) == len(suppressed)
    for damaged in (data[:-1], data[:-8], data[:-9] + b"x" + data[-8:], b"not a set\n",
                    b"", data.replace(b"a2p-suppressed/1", b"a2p-suppressed/9")):
        with pytest.raises(ValueError, match="kept suppression set"):
            Suppressed.decode(damaged)
