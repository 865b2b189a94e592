"""Phone numbers as lists really hold them, turned into the E.164 form the API takes
(MessageCreateRequest.to), with the reason a number cannot be texted.

High Volume SMS texts North American numbers only (guide: ``SMS-RC-410`` for any other), so a
number written without a country code is read in the North American Numbering Plan (NANP):
ten digits, or eleven starting with 1, in any common punctuation. Every function here is pure.

What the local North American check refuses, and why (each passes libphonenumber's validity
rules too, which tests/test_phone.py checks for every area code):

- anything that is not ``+1`` and ten digits: another country (``+44 20 7183 8750``) or a
  wrong length; the API answers SMS-RC-410 for those;
- an area code or exchange starting with 0 or 1: NANP codes have the form NXX, N = 2-9;
- area codes N11 (211, 311, ... 911): three-digit service codes, never area codes;
- area codes N9X (290-299, 390-399, ...): reserved for expanding the plan beyond ten digits;
- area codes 37X and 96X: reserved by NANPA for purposes not yet anticipated;
- area code 555: never assigned (555 is an exchange for directory and fictional numbers);
- area codes 700 and 710: carrier services and the US government, no subscribers to text.

Not refused, though sometimes suggested: exchange 555 (``+1 415 555 0100`` is the guide's own
example, and 555-01XX numbers are assigned to real services), N11 exchanges (assigned in
several areas; libphonenumber accepts them), toll-free area codes (toll-free texting exists),
and 5XX/600/900 non-geographic codes (assigned and reachable; the server decides).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import is_
from typing import Any

from engine.core.rejections import (
    EMPTY_TO,
    EXCEL_NUMBER,
    INVALID_NUMBER,
    NOT_NORTH_AMERICAN,
    SHOWN,
    UNREACHABLE_NUMBER,
    quoted,
)
from engine.errors import ConfigError
from engine.reading.plusone import PLUS_ONE_CODES, classify_plus_one

E164 = re.compile(r"\+[1-9][0-9]{1,14}")
# High Volume SMS reaches North American numbers only: +1, then a 10-digit NANP number whose
# area code and exchange do not start with 0 or 1.
_NANP = re.compile(r"\+1[2-9][0-9]{2}[2-9][0-9]{6}")
# The same with the area codes listed in the module docstring refused inside the one match, so
# that checking an already clean list costs one C-level fullmatch per number.
_BAD_AREA = r"[2-9]11|[2-9]9[0-9]|37[0-9]|96[0-9]|555|700|710"
TEXTABLE = re.compile(rf"\+1(?!{_BAD_AREA})[2-9][0-9]{{2}}[2-9][0-9]{{6}}")
_BAD_AREA_CODE = re.compile(_BAD_AREA)
_TEXTABLE_JOINED = re.compile(rf"{TEXTABLE.pattern}(?:\n{TEXTABLE.pattern})*")

# Punctuation people put in numbers: spaces (also no-break and thin), dashes of every width,
# dots, slashes and parentheses.
_PUNCTUATION = " \t\u00a0\u2009\u202f-\u2010\u2011\u2012\u2013\u2014\u2212./()"
_FORMATTING = str.maketrans("", "", _PUNCTUATION)
# Lines (punctuation removed) that are textable national numbers, with or without 1 or +1.
_NATIONAL_LINE = rf"(?:\+?1)?(?!{_BAD_AREA})[2-9][0-9]{{2}}[2-9][0-9]{{6}}"
_NATIONAL_JOINED = re.compile(rf"{_NATIONAL_LINE}(?:\n{_NATIONAL_LINE})*")
_NATIONAL_ANY = re.compile(r"1?([0-9]{10})")
# What a spreadsheet writes for a long number in a General-format cell: 6.50555E+09. The
# digits after the sixth significant one are gone; nothing can bring them back.
_EXCEL = re.compile(r"\s*[0-9][.,][0-9]+[eE]\+?[0-9]+\s*")
# What pandas and some CRMs write for a number read as a float: every digit is still there.
_FLOAT_TAIL = re.compile(r"([0-9]{10,11})\.0+")

NANP_COUNTRIES = ("US", "CA")  # --default-country values: both dial +1 (the same plan)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a recipient cannot be texted: a local rejection code and a sentence showing the
    value refused and the fix."""

    code: str
    message: str


Checked = str | Problem  # the E.164 number, or why not


def check_country(country: str | None) -> str | None:
    """``--default-country`` validated: US or CA (the one North American plan), or None to
    require a + on every number."""
    if country is None or country.upper() in NANP_COUNTRIES:
        return None if country is None else country.upper()
    raise ConfigError("--default-country", "country", f"{country!r} is not supported",
                      "High Volume SMS texts North American numbers only: use US or CA "
                      "(numbers without +1 are read as ten-digit NANP numbers).")


def normalize(raw: str) -> str | None:
    """The E.164 form of ``raw`` after removing spaces, dashes, dots and parentheses, or None.

    >>> normalize("+1 (415) 555-0100")
    '+14155550100'
    """
    if E164.fullmatch(raw):
        return raw
    number = raw.strip().translate(_FORMATTING)
    return number if E164.fullmatch(number) else None


def is_north_american(number: str) -> bool:
    return _NANP.fullmatch(number) is not None


def nanp_problem(number: str, written: str | None = None) -> Problem | None:
    """Why an E.164 ``number`` cannot be texted by High Volume SMS, or None when it can;
    the message shows the number as ``written`` in the list too, when that differs.

    >>> nanp_problem("+14155550100") is None, nanp_problem("+442071838750").code
    (True, 'LCL-NOT-NORTH-AMERICAN')
    """
    if TEXTABLE.fullmatch(number):
        return None
    shown = number if written in (None, number) else f"{quoted(written)} ({number})"
    if not number.startswith("+1"):
        return Problem(NOT_NORTH_AMERICAN,
                       f"{shown} is not a North American number; High Volume SMS texts "
                       "+1 numbers only (the server would refuse it with SMS-RC-410)")
    digits = number[2:]
    if len(digits) != 10 or not digits.isdigit():
        return Problem(INVALID_NUMBER,
                       f"{shown} does not have the ten digits after +1 that a North "
                       "American number has; check the number")
    area, exchange = digits[:3], digits[3:6]
    if area[0] in "01" or exchange[0] in "01":
        part = f"area code {area}" if area[0] in "01" else f"exchange {exchange}"
        return Problem(INVALID_NUMBER, f"{shown}: the {part} starts with {part[-3]}{_NXX}")
    assert _BAD_AREA_CODE.fullmatch(area)
    return Problem(UNREACHABLE_NUMBER,
                   f"{shown}: area code {area} is {_area_reason(area)}{_NO_ONE}")


# The ends of nanp_problem's sentences, which describe_plus_one's templates share.
_NXX = ", which no North American area code or exchange does; check the number"
_NO_ONE = ", so no one can be texted there; check the number"


def _area_reason(area: str) -> str:
    if area[1:] == "11":
        return "a service code (like 411 or 911), not an area code"
    if area[1] == "9":
        return "reserved for expanding the numbering plan"
    if area[:2] in ("37", "96"):
        return "reserved by the numbering plan and not assigned"
    if area == "555":
        return "not assigned to any area"
    return "a non-geographic service code with no subscribers"


def check(raw: str, country: str | None = "US") -> Checked:
    """One raw number as the E.164 number to send, or the Problem that stops it.

    ``country`` (``US`` or ``CA``) reads numbers without a + as North American; None requires
    the +.

    >>> check("(650) 555-0123"), check("1-650-555-0127"), check("+1 650 555 0128")
    ('+16505550123', '+16505550127', '+16505550128')
    >>> check("6.50555E+09").code
    'LCL-EXCEL-NUMBER'
    """
    if TEXTABLE.fullmatch(raw):
        return raw
    number = _e164(raw, country)
    if isinstance(number, Problem):
        return number
    return nanp_problem(number, raw) or number


def e164(raw: str, country: str | None = "US") -> Checked:
    """``raw`` in E.164 without the North American check (``north_american_only`` off: the
    server then answers SMS-RC-410 for other countries), or the Problem.

    >>> e164("+44 20 7183 8750"), e164("(650) 555-0123")
    ('+442071838750', '+16505550123')
    """
    return raw if E164.fullmatch(raw) else _e164(raw, country)


def _e164(raw: str, country: str | None) -> Checked:
    """The E.164 spelling of ``raw`` (not yet checked for North America), or the Problem."""
    cleaned = raw.strip().translate(_FORMATTING)
    if not cleaned:
        return Problem(EMPTY_TO, "the recipient number is empty")
    if cleaned.startswith("+"):
        if E164.fullmatch(cleaned):
            return cleaned
        return _invalid(raw, country)
    if country is None:
        return Problem(INVALID_NUMBER, f"{quoted(raw)} has no country code; write it as +1 and ten "
                       "digits, e.g. +14155550100, or pass --default-country US")
    if _EXCEL.fullmatch(raw):
        return Problem(EXCEL_NUMBER, f"{quoted(raw)} is a number a spreadsheet rounded into "
                       "scientific notation: its last digits are lost and cannot be recovered. "
                       "Format the phone column as Text in the spreadsheet and export it again")
    floated = _FLOAT_TAIL.fullmatch(raw.strip())
    if floated:
        cleaned = floated.group(1)
    national = _NATIONAL_ANY.fullmatch(cleaned)
    if national is None:
        return _invalid(raw, country)
    return "+1" + national.group(1)


def _invalid(raw: str, country: str | None) -> Problem:
    example = "+14155550100" + (" or (415) 555-0100" if country else "")
    return Problem(INVALID_NUMBER, f"{quoted(raw)} is not a phone number this API can text; write "
                   f"it as +1 and ten digits, e.g. {example}")


def check_all(raws: Sequence[str], country: str | None = "US") -> list[str] | None:
    """Every number of a block as E.164, or None when any of them has a Problem or is not in
    a shape the bulk path reads (the caller then takes its careful path: ``check`` per record).

    Built for the reader's bulk path, where a per-number Python call would cost more than the
    rest of the read: the block is joined and checked with one C-level regex match, and a block
    of national numbers costs one translate and one match over the whole text, then a slice
    per number.

    >>> check_all(["+16505550123", "650.555.0124", "1 (650) 555-0125"])
    ['+16505550123', '+16505550124', '+16505550125']
    >>> check_all(["+16505550123", "+442071838750"]) is None
    True
    """
    if not raws:
        return []
    kinds = classify_plus_one(raws)  # the common block: "+1" and ten digits, each
    if kinds is not None:
        if kinds.count(0) != len(kinds):
            return None
        return raws if isinstance(raws, list) else list(raws)
    joined = "\n".join(raws)
    if _textable_lines(joined, len(raws)):
        return raws if isinstance(raws, list) else list(raws)
    if country is None:
        return None
    cleaned = joined.translate(_FORMATTING)
    if cleaned.count("\n") != len(raws) - 1 or not _NATIONAL_JOINED.fullmatch(cleaned):
        return None
    return ["+1" + line[-10:] for line in cleaned.split("\n")]


def _textable_lines(joined: str, count: int) -> bool:
    # Every textable number is 12 characters, so the length proves there are exactly
    # ``count`` of them: no number hides a newline of its own.
    return len(joined) == 13 * count - 1 and _TEXTABLE_JOINED.fullmatch(joined) is not None



# A block's numbers sorted in a few C-level passes over their join, each line replaced by what
# it is: nothing when textable as written, a marker for the two commonest refusals of a +1
# number (a lone surrogate, which no bulk-read text can hold: strict UTF-8 and orjson refuse
# them), anything else left as written for ``check``.
_TEXTABLE_LINE = re.compile(rf"^{TEXTABLE.pattern}$", re.MULTILINE)
_INVALID_LINE = re.compile(r"^\+1(?:[01][0-9]{9}|[2-9][0-9]{2}[01][0-9]{6})$", re.MULTILINE)
_UNREACHABLE_LINE = re.compile(rf"^\+1(?:{_BAD_AREA})[2-9][0-9]{{6}}$", re.MULTILINE)
_INVALID_MARK, _UNREACHABLE_MARK = "\udc01", "\udc02"
_MARKED = {"": "", _INVALID_MARK: INVALID_NUMBER, _UNREACHABLE_MARK: UNREACHABLE_NUMBER}


def sort_out(raws: list[str], country: str | None = "US", strip: bool = True
             ) -> tuple[list[str], list[str]] | None:
    """(numbers, codes) for a block's raw numbers, as ``check`` would judge each one:
    ``codes[i]`` is "" when ``raws[i]`` can be texted, and ``numbers[i]`` is then its E.164
    form; otherwise ``codes[i]`` is the local rejection code and ``numbers[i]`` the value the
    rejection shows (``raws[i]``, stripped when ``strip``, as the CSV and plain-line readers
    strip it). None when a value is empty or the block's join does not split back into its
    values (a newline inside one): the caller reads such a block record by record.

    Built for blocks with bad numbers (a list of random numbers, an old export): one regex
    substitution per kind over the whole block, no Python call per number but for the few in
    no common shape.

    >>> sort_out(["+14155550100", "+14151550100", "+15555550100"])
    (['+14155550100', '+14151550100', '+15555550100'], ['', 'LCL-INVALID-NUMBER', \
'LCL-UNREACHABLE-NUMBER'])
    """
    if not raws:
        return [], []
    # The common block, every value a "+1" and ten digits: sorted in a few C-level passes.
    kinds = classify_plus_one(raws)
    if kinds is not None:
        return raws, list(map(PLUS_ONE_CODES.__getitem__, kinds))
    joined = "\n".join(raws)
    if "" in raws or "\udc01" in joined or "\udc02" in joined:
        return None
    marked = _TEXTABLE_LINE.sub("", joined)
    marked = _INVALID_LINE.sub(_INVALID_MARK, marked)
    parts = _UNREACHABLE_LINE.sub(_UNREACHABLE_MARK, marked).split("\n")
    if len(parts) != len(raws):
        return None
    codes = list(map(_MARKED.get, parts))
    if None not in codes:
        return raws, codes  # type: ignore[return-value]  # no None left
    numbers = list(raws)
    for i in compress(range(len(codes)), map(is_, codes, repeat(None))):
        value = raws[i].strip() if strip else raws[i]
        if not value or len(value) > SHOWN:
            # a blank line: not a record on some paths, the careful one decides; a value too
            # long to show whole: described now, from the whole value (Rejection.explained)
            return None
        checked = check(value, country)
        numbers[i], codes[i] = (checked, "") if isinstance(checked, str) else \
            (value, checked.code)
    return numbers, codes  # type: ignore[return-value]  # every None replaced


def explain(raw: str, country: str | None = "US") -> str:
    """The description of the Problem ``check`` finds in ``raw`` (which must have one)."""
    problem = check(raw, country)
    assert isinstance(problem, Problem), raw
    return problem.message


# Strict mode: Google's libphonenumber ---------------------------------------------------------

def strict_checker(country: str | None = "US") -> Callable[[str], Checked]:
    """``check`` followed by libphonenumber's full validity rules (assigned area codes and
    exchange ranges, per country of the plan), for users who want them; needs the
    ``strict-numbers`` extra.

    >>> strict_checker()("+1 201 555 0123")                            # doctest: +SKIP
    '+12015550123'
    """
    try:
        import phonenumbers
    except ImportError as exc:
        raise ConfigError("--strict-numbers", "phonenumbers", "libphonenumber is not installed",
                          "Install it with pip install 'a2p-batch-engine[strict-numbers]', or "
                          "drop --strict-numbers to use the built-in North American check."
                          ) from exc
    lib: Any = phonenumbers

    def strict(raw: str) -> Checked:
        number = check(raw, country)
        if isinstance(number, Problem):
            return number
        parsed = lib.parse(number, None)
        if lib.is_valid_number(parsed):
            return number
        return Problem(UNREACHABLE_NUMBER, f"{quoted(raw)} ({number}) is not in any assigned North "
                       "American number range (libphonenumber's rules); check the number")

    return strict
