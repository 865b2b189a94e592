"""Bulk sorting of a block of numbers each written "+1" and ten digits (as lists are exported):
the verdict of ``phone.check`` for every one of them, and its description, with no Python
call per number. The North American rules themselves are engine/reading/phone.py's; these
are the same rules read off the four digits that decide (area code, exchange's first), as
columns of the block's bytes."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from operator import itemgetter

from engine.core.rejections import INVALID_NUMBER, UNREACHABLE_NUMBER


@cache
def _plus_one_codes() -> dict[str, str]:
    """The code ``check`` gives a "+1" and ten digits, by the first four digits (area code,
    first digit of the exchange): "" for a textable number."""
    from engine.reading.phone import _BAD_AREA_CODE  # phone imports this module

    codes = {}
    for key in map("{:04d}".format, range(10_000)):
        if key[0] in "01" or key[3] in "01":
            codes[key] = INVALID_NUMBER
        else:
            codes[key] = UNREACHABLE_NUMBER if _BAD_AREA_CODE.fullmatch(key[:3]) else ""
    return codes


# What ``classify_plus_one`` says of a number, by its byte: textable, or the code check gives.
PLUS_ONE_CODES = ("", INVALID_NUMBER, UNREACHABLE_NUMBER)
_DIGITS = b"0123456789"


def _is(chars: bytes) -> bytes:
    """A ``bytes.translate`` table: 1 for each of ``chars``, 0 for any other byte."""
    table = bytearray(256)
    for c in chars:
        table[c] = 1
    return bytes(table)


_IS = {c: _is(c.encode()) for c in ("01", "0", "1", "3", "5", "6", "7", "9")}


def classify_plus_one(raws: Sequence[str]) -> bytes | None:
    """A byte per number, index into ``PLUS_ONE_CODES``: 0 where ``check`` finds it textable,
    1 for LCL-INVALID-NUMBER, 2 for LCL-UNREACHABLE-NUMBER, when every one of ``raws`` is "+1"
    and ten digits as written; else None (the caller sorts them some other way).

    The shape is proven on the block's join by a few slices (every 13th byte is the "+", the
    "1", the line end) and one delete of the digits (nothing else is left); then each digit
    that decides is a column of the block, a slice, and the refusals are bit operations on
    those columns read as one integer each: no Python call, nor object, per number.

    >>> list(classify_plus_one(["+14155550100", "+14151550100", "+15555550100"]))
    [0, 1, 2]
    """
    n = len(raws)
    if not n:
        return b""
    joined = "\n".join(raws)
    if len(joined) != 13 * n - 1 or not joined.isascii():
        return None
    block = joined.encode() + b"\n"
    if (block[0::13] != b"+" * n or block[1::13] != b"1" * n or block[12::13] != b"\n" * n
            or block.translate(None, _DIGITS) != b"+\n" * n):
        return None
    area, middle, last, exchange = block[2::13], block[3::13], block[4::13], block[5::13]

    def has(column: bytes, chars: str) -> int:  # bit k set where row k's digit is in chars
        return int.from_bytes(column.translate(_IS[chars]))

    invalid = has(area, "01") | has(exchange, "01")  # an N of NXX that is 0 or 1
    a3, a5, a7, a9 = (has(area, d) for d in "3579")
    m0, m1, m5, m6, m7, m9 = (has(middle, d) for d in "015679")
    l0, l1, l5 = (has(last, d) for d in "015")
    # the area codes of _BAD_AREA: N11, N9X, 37X, 96X, 555, 700, 710
    bad_area = (m1 & l1) | m9 | (a3 & m7) | (a9 & m6) | (a5 & m5 & l5) | (a7 & (m0 | m1) & l0)
    return (invalid | (bad_area & ~invalid) << 1).to_bytes(n)


_FOUR_DIGITS, _EXCHANGE = itemgetter(slice(2, 6)), itemgetter(slice(5, 8))


@cache
def _plus_one_templates() -> dict[str, str]:
    """The description ``check`` gives a "+1" and ten digits, by its first four digits (as
    ``_plus_one_codes``), as a %-template of the number and its exchange (shown or not:
    ``%.0s``); "%.0s%.0s" for a textable number."""
    from engine.reading.phone import _NO_ONE, _NXX, _area_reason  # phone imports this module

    templates = {}
    for key, code in _plus_one_codes().items():
        area = key[:3]
        if code == INVALID_NUMBER:
            part = f"area code {area}%.0s" if area[0] in "01" else "exchange %s"
            digit = area[0] if area[0] in "01" else key[3]
            templates[key] = f"%s: the {part} starts with {digit}{_NXX}"
        elif code == UNREACHABLE_NUMBER:
            reason = f"area code {area} is {_area_reason(area)}{_NO_ONE}".replace("%", "%%")
            templates[key] = f"%s: {reason}%.0s"
        else:
            templates[key] = "%.0s%.0s"
    return templates


def describe_plus_one(raws: Sequence[str]) -> list[str] | None:
    """What ``explain`` says of each of ``raws``, "" for a textable one, when every one is a
    "+1" and ten digits as written (else None: the caller explains them one by one).

    For a block of bad numbers shown in full (``a2p plan --json``, a run's report): a
    template by the four digits that decide, filled in by C-level maps, no Python call per
    number.

    >>> from engine.reading.phone import explain
    >>> describe_plus_one(["+14155550100", "+15555550100"])[1] == explain("+15555550100")
    True
    """
    if classify_plus_one(raws) is None:  # proves the shape (the verdicts come with it)
        return None
    templates = map(_plus_one_templates().__getitem__, map(_FOUR_DIGITS, raws))
    return list(map(str.__mod__, templates, zip(raws, map(_EXCHANGE, raws), strict=True)))
