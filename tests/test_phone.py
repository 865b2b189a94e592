"""Numbers as lists hold them: national formats, spreadsheet damage, the North American check."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core import rejections as codes
from engine.core.rejections import EMPTY_TO, INVALID_NUMBER
from engine.errors import ConfigError
from engine.reading.phone import (
    Problem,
    check,
    check_all,
    check_country,
    explain,
    is_north_american,
    nanp_problem,
    normalize,
    sort_out,
    strict_checker,
)

NATIONAL = [("(650) 555-0123", "+16505550123"), ("650.555.0124", "+16505550124"),
            ("6505550126", "+16505550126"), ("1-650-555-0127", "+16505550127"),
            ("16505550191", "+16505550191"), ("+1 650 555 0128", "+16505550128"),
            (" 650 555 0129\t", "+16505550129"), ("650/555-0130", "+16505550130"),
            ("650\u2013555\u20130131", "+16505550131"), ("6505550132.0", "+16505550132"),
            ("+1.650.555.0133", "+16505550133"), ("+16505550134", "+16505550134")]


_raw_numbers = st.one_of(
    st.text(alphabet="0123456789+-(). e,E/", max_size=18),
    st.builds(lambda d, fmt: fmt.format(d[:3], d[3:6], d[6:]),
              st.text(alphabet="0123456789", min_size=10, max_size=10),
              st.sampled_from(["({}) {}-{}", "{}.{}.{}", "{}{}{}", "1-{}-{}-{}", "+1 {} {} {}",
                               "1{}{}{}"])),
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("+1 (415) 555-0100", "+14155550100"), ("+44 20 7183 8750", "+442071838750"),
     (" +1.650.555.0100 ", "+16505550100"), ("4155550100", None), ("+0123", None),
     ("+1415555010x", None), ("", None)],
)
def test_normalize(raw: str, expected: str | None) -> None:
    """The E.164 spelling (any country) is kept for callers that want no default country."""
    assert normalize(raw) == expected


def test_north_american_only() -> None:
    """+1 with a 10-digit NANP number passes; other countries and short numbers do not."""
    assert is_north_american("+14155550100")
    assert not is_north_american("+442071838750")
    assert not is_north_american("+4088070206")
    assert not is_north_american("+11155550100")


@pytest.mark.parametrize(("raw", "expected"), NATIONAL)
def test_national_formats_become_e164(raw: str, expected: str) -> None:
    """US numbers in any common punctuation, with or without 1 or +1, are kept, not lost."""
    assert check(raw) == expected


def test_national_formats_need_a_default_country() -> None:
    """Without a default country a number lacking + is refused with the flag that fixes it."""
    problem = check("(650) 555-0123", None)
    assert isinstance(problem, Problem)
    assert problem.code == INVALID_NUMBER
    assert "'(650) 555-0123'" in problem.message
    assert "--default-country US" in problem.message
    assert check("+1 650 555 0123", None) == "+16505550123"


@pytest.mark.parametrize("raw", ["6.50555E+09", "1.65055E+10", "6,50555E+09", "6.50555e9"])
def test_excel_scientific_notation_is_reported_as_lost(raw: str) -> None:
    """A spreadsheet's 6.50555E+09 is refused as lost digits, with the way to export it right."""
    problem = check(raw)
    assert isinstance(problem, Problem)
    assert problem.code == codes.EXCEL_NUMBER
    assert repr(raw) in problem.message
    assert "cannot be recovered" in problem.message
    assert "as Text" in problem.message


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [("+44 20 7183 8750", codes.NOT_NORTH_AMERICAN, "not a North American number"),
     ("+4088070206", codes.NOT_NORTH_AMERICAN, "+1 numbers only"),
     ("+1 555 234 5678", codes.UNREACHABLE_NUMBER, "area code 555 is not assigned"),
     ("(211) 234-5678", codes.UNREACHABLE_NUMBER, "area code 211 is a service code"),
     ("+1 911 234 5678", codes.UNREACHABLE_NUMBER, "service code"),
     ("+1 370 234 5678", codes.UNREACHABLE_NUMBER, "area code 370 is reserved"),
     ("+1 965 234 5678", codes.UNREACHABLE_NUMBER, "area code 965 is reserved"),
     ("+1 296 234 5678", codes.UNREACHABLE_NUMBER, "expanding the numbering plan"),
     ("+1 700 234 5678", codes.UNREACHABLE_NUMBER, "non-geographic"),
     ("+1 650 155 0123", INVALID_NUMBER, "exchange 155 starts with 1"),
     ("+1 050 555 0123", INVALID_NUMBER, "area code 050 starts with 0"),
     ("+1 650 555 012", INVALID_NUMBER, "ten digits"),
     ("650-555-012", INVALID_NUMBER, "e.g. +14155550100"),
     ("call me", INVALID_NUMBER, "'call me'"),
     ("  ", EMPTY_TO, "empty")],
)
def test_numbers_the_api_would_refuse_are_rejected_locally(raw: str, code: str, words: str
                                                           ) -> None:
    """Other countries and impossible NANP numbers are refused with a code and the value."""
    problem = check(raw)
    assert isinstance(problem, Problem)
    assert problem.code == code
    assert words in problem.message
    if raw.strip():
        assert repr(raw) in problem.message or raw in problem.message


def test_message_shows_the_number_as_written_and_as_read() -> None:
    """A refused national number is shown as the list wrote it and as +1 digits."""
    problem = check("(555) 234-5678")
    assert isinstance(problem, Problem)
    assert problem.message.startswith("'(555) 234-5678' (+15552345678): area code 555")


def test_kept_ranges() -> None:
    """The guide's 555 example, N11 exchanges, toll-free and Canadian numbers are kept."""
    for number in ("+14155550100", "+12012110000", "+18005550100", "+16045550100",
                   "+19005550100", "+16005550100"):
        assert check(number) == number
        assert nanp_problem(number) is None


def test_never_stricter_than_libphonenumber() -> None:
    """Every area code the local check refuses, libphonenumber refuses too (no good number lost)."""
    import phonenumbers

    refused = 0
    for area in range(200, 1000):
        number = f"+1{area}2345678"
        if nanp_problem(number) is not None:
            refused += 1
            assert not phonenumbers.is_valid_number(phonenumbers.parse(number)), number
    assert refused >= 8 + 80 + 20 + 1 + 2 - 1  # N11, N9X, 37X, 96X, 555, 700, 710 (999 twice)


def test_check_all_keeps_a_clean_block_as_it_is() -> None:
    """A block already in E.164 comes back as the same list: no copy on the bulk path."""
    block = ["+16505550123", "+14155550100"]
    assert check_all(block) is block


def test_check_all_normalises_a_mixed_block() -> None:
    """A block of national numbers comes back in E.164, in order."""
    assert check_all([raw for raw, _ in NATIONAL[:6]]) == [e164 for _, e164 in NATIONAL[:6]]


@pytest.mark.parametrize("bad", ["+442071838750", "6.50555E+09", "5552345678", "x", "",
                                 "+1 555 234 5678"])
def test_check_all_hands_a_block_with_a_problem_to_the_careful_path(bad: str) -> None:
    """One bad number anywhere in a block makes check_all answer None (check() then explains)."""
    assert check_all(["+16505550123", bad, "6505550124"]) is None
    assert isinstance(check(bad), Problem)


def test_check_all_refuses_a_number_hiding_a_newline() -> None:
    """Two numbers in one field are not two recipients: the block goes to the careful path."""
    assert check_all(["+16505550123\n+16505550124", "+16505550125"]) is None
    assert check_all(["6505550123\n6505550124", "6505550125"]) is None
    assert check_all([]) == []


def test_check_all_without_default_country_needs_plus() -> None:
    """Without a default country, a national number sends the block to the careful path."""
    assert check_all(["+16505550123", "6505550124"], None) is None


@given(st.lists(_raw_numbers, max_size=20))
def test_check_all_agrees_with_check(raws: list[str]) -> None:
    """The bulk function gives exactly check()'s numbers, or None when check() finds a problem."""
    one_by_one = [check(raw) for raw in raws]
    bulk = check_all(raws)
    if any(isinstance(n, Problem) for n in one_by_one):
        assert bulk is None
    else:  # None only sends a rare shape (6505550123.0) to the careful path
        assert bulk is None or bulk == one_by_one


def test_default_country_values() -> None:
    """US and CA (one plan) are accepted; another country is refused with the reason."""
    assert check_country("us") == "US"
    assert check_country(None) is None
    with pytest.raises(ConfigError, match="North American numbers only"):
        check_country("GB")


def test_strict_mode_uses_libphonenumber() -> None:
    """Strict mode also refuses +1 numbers in area codes libphonenumber knows are unassigned."""
    strict = strict_checker("US")
    assert strict("(201) 555-0123") == "+12015550123"
    assert check("+1 222 234 5678") == "+12222345678"  # area code 222 is not assigned
    unassigned = strict("+1 222 234 5678")
    assert isinstance(unassigned, Problem)
    assert unassigned.code == codes.UNREACHABLE_NUMBER
    assert "'+1 222 234 5678' (+12222345678)" in unassigned.message
    other = strict("+442071838750")
    assert isinstance(other, Problem)
    assert other.code == codes.NOT_NORTH_AMERICAN


def test_strict_mode_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without libphonenumber installed, strict mode says which extra to install."""
    monkeypatch.setitem(__import__("sys").modules, "phonenumbers", None)
    with pytest.raises(ConfigError, match=r"a2p-batch-engine\[strict-numbers\]"):
        strict_checker()


def test_docstring_examples_hold() -> None:
    """The examples in engine/reading/phone.py's docstrings are true."""
    import doctest

    import engine.reading.phone

    result = doctest.testmod(engine.reading.phone)
    assert (result.failed, result.attempted > 0) == (0, True)


plus_one = st.builds(lambda d: "+1" + d, st.text(alphabet="0123456789", min_size=10, max_size=10))
any_raw = st.one_of(plus_one, st.sampled_from([
    "(650) 555-0123", " +14155550100 ", "6.50555E+09", "bad", "+442071838750", "+1415555010",
    "1 (415) 155-0100", "  ", "\udc01", "+1 555 555 0100"]))


@settings(max_examples=300, deadline=None)
@given(raws=st.lists(any_raw, max_size=40), country=st.sampled_from(["US", None]),
       strip=st.booleans())
def test_sort_out_agrees_with_check(raws: list[str], country: str | None, strip: bool) -> None:
    """A block sorted at once gives, number by number, what check gives: the E.164 number of
    the good ones, the code of the bad ones, and the value their rejection shows."""
    result = sort_out(raws, country, strip)
    if result is None:
        values = [r.strip() if strip else r for r in raws]
        assert not all(values) or any("\udc01" in r for r in raws)
        return
    numbers, codes_ = result
    for raw, number, code in zip(raws, numbers, codes_, strict=True):
        value = raw.strip() if strip else raw
        checked = check(value, country)
        if isinstance(checked, str):
            assert (number, code) == (checked, "")
        else:
            assert (number, code) == (value, checked.code)
            assert explain(number, country) == checked.message


def test_sort_out_reads_every_plus_one_area_and_exchange_like_check() -> None:
    """All 10,000 combinations of area code and exchange's first digit, in one block."""
    raws = [f"+1{k:04d}{k % 1000:06d}" for k in range(10_000)]
    result = sort_out(raws)
    assert result is not None
    checked = [check(raw) for raw in raws]
    assert result[1] == ["" if isinstance(c, str) else c.code for c in checked]
