"""How many SMS segments a text costs: GSM-7 when every character is in the GSM 03.38 alphabet,
UCS-2 otherwise (counted in UTF-16 code units).

A long message travels as concatenated segments whose user-data header leaves 153 septets
(GSM-7) or 67 code units (UCS-2) each. A character is never cut in two: an extension-table
character (escape septet + its own, e.g. ``€``) or a surrogate pair (an emoji) that would
straddle a boundary moves whole to the next segment, so such texts can cost one more segment
than their length divided by 153 or 67 (3GPP TS 23.038 and TS 23.040).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import and_, gt, methodcaller, ne, not_, rshift

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension-table characters take an escape septet plus their own.
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
_GSM7 = _GSM7_BASIC | _GSM7_EXTENDED
# The alphabet checks as regexes: a C-level scan, many times faster than set.issuperset(str),
# which makes a str object per character.
_NOT_GSM7 = re.compile(f"[^{re.escape(''.join(sorted(_GSM7)))}]")
# The characters taking two units: an extension-table character (escape + its own septet), a
# character outside the Basic Multilingual Plane (a UTF-16 surrogate pair, e.g. an emoji).
_GSM7_ESCAPED = re.compile(f"[{re.escape(''.join(sorted(_GSM7_EXTENDED)))}]")
_SURROGATE_PAIR = re.compile("[\U00010000-\U0010ffff]")
# The ASCII characters of the basic table, deleted from a text's bytes: nothing left means a
# plain GSM-7 text whose segments are its length divided.
_ASCII_BASIC = bytes(sorted(ord(c) for c in _GSM7_BASIC if c.isascii()))

GSM7, UCS2 = "GSM-7", "UCS-2"
# US dollars per segment used when none is given: a typical US A2P price. The estimate is only
# as good as this figure: pass --price-per-segment with your contract's price.
DEFAULT_PRICE = 0.007
GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67


def is_gsm7(text: str) -> bool:
    return _NOT_GSM7.search(text) is None


def _fill(text: str, wide: re.Pattern[str], size: int) -> int:
    """Segments of ``size`` units holding ``text``, where the characters ``wide`` matches take
    two units (an escape septet, a surrogate pair) and none is split across two.

    A segment ends ``size`` units after it starts, or one unit before when a two-unit character
    would straddle the end; only the two-unit characters are looked at, not every character.
    """
    starts, extra = set(), 0  # unit offsets where a two-unit character begins
    for match in wide.finditer(text):
        starts.add(match.start() + extra)
        extra += 1
    units, segments, start = len(text) + extra, 1, 0
    while units - start > size:
        end = start + size
        start = end - 1 if end - 1 in starts else end
        segments += 1
    return segments


def segment_count(text: str) -> int:
    """Segments for one message: 160/153 septets for GSM-7, 70/67 code units for UCS-2.

    >>> segment_count("Hello"), segment_count("x" * 161), segment_count("Привет")
    (1, 2, 1)
    >>> segment_count("a" * 152 + "€" + "a" * 152)  # the € moves whole to segment 2
    3
    """
    if is_gsm7(text):
        wide = len(_GSM7_ESCAPED.findall(text))
        units, single, multi = len(text) + wide, GSM7_SINGLE, GSM7_MULTI
        if units > single and wide:
            return _fill(text, _GSM7_ESCAPED, multi)
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi = UCS2_SINGLE, UCS2_MULTI
        if units > single and units != len(text):
            return _fill(text, _SURROGATE_PAIR, multi)
    return _divided(units, single, multi)


def _divided(units: int, single: int, multi: int) -> int:
    """Segments of ``units`` when no character has to move to the next segment."""
    return 1 if units <= single else -(-units // multi)


def ucs2_forcing(text: str, limit: int = 5) -> tuple[str, ...]:
    """The first ``limit`` distinct characters that make ``text`` UCS-2 (empty: GSM-7).

    >>> ucs2_forcing("Hi 😀 ☀ 😀")
    ('😀', '☀')
    """
    found: list[str] = []
    for c in text:
        if c not in _GSM7 and c not in found:
            found.append(c)
            if len(found) == limit:
                break
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Encoding:
    """How a text is sent: its encoding, segment count, and what forces UCS-2 (if it is)."""

    name: str
    segments: int
    forcing: tuple[str, ...]


def encoding_of(text: str, limit: int = 5) -> Encoding:
    """The encoding, segments and UCS-2-forcing characters of one text, for a cost preview.

    >>> encoding_of("Sale: 20% off “today”")
    Encoding(name='UCS-2', segments=1, forcing=('“', '”'))
    """
    forcing = ucs2_forcing(text, limit)
    return Encoding(UCS2 if forcing else GSM7, segment_count(text), forcing)


def describe_char(c: str) -> str:
    """A forcing character as people can find it, e.g. ``'😀' (U+1F600)``."""
    return f"{c!r} (U+{ord(c):04X})"


def estimate_cost(segments: int, price_per_segment: float) -> float:
    """Estimated price of ``segments`` segments; the real bill comes from RingCentral.

    >>> estimate_cost(3_000, 0.007)
    21.0
    """
    return round(segments * price_per_segment, 6)


# Segments of a plain GSM-7 text by its length, for every length the spec allows (1000), looked
# up in C rather than worked out per text.
_GSM7_SEGMENTS = [_divided(k, GSM7_SINGLE, GSM7_MULTI) for k in range(1025)]
# The same for UCS-2 by UTF-16 code units (up to two per character).
_UCS2_SEGMENTS = [_divided(k, UCS2_SINGLE, UCS2_MULTI) for k in range(2049)]
_UTF16 = methodcaller("encode", "utf-16-le")


def count_many(texts: Sequence[str]) -> tuple[list[int], list[bool]]:
    """``segment_count`` and whether it is UCS-2, for each text of a block.

    The ASCII texts (most of a typical list) are checked together, one C-level
    ``bytes.translate`` over their join, and counted by arithmetic on their lengths; only the
    others (accents, emoji, Cyrillic...) and a block holding ``{``, ``^`` and the like take a
    look one by one.

    >>> count_many(["Hi", "x" * 161, "Привет"])
    ([1, 2, 1], [False, False, True])
    """
    n = len(texts)
    if n == 0:
        return [], []
    lengths = list(map(len, texts))
    plain = list(map(str.isascii, texts))
    others = [] if all(plain) else list(compress(range(n), map(not_, plain)))
    ascii_texts = texts if not others else list(compress(texts, plain))
    if "\n".join(ascii_texts).encode().translate(None, _ASCII_BASIC).strip(b"\n"):
        return [segment_count(t) for t in texts], [not is_gsm7(t) for t in texts]
    longest = max(lengths)
    if longest <= GSM7_SINGLE:
        counts = [1] * n
    elif longest < len(_GSM7_SEGMENTS):
        counts = list(map(_GSM7_SEGMENTS.__getitem__, lengths))  # a C-level lookup each
    else:
        counts = [_divided(k, GSM7_SINGLE, GSM7_MULTI) for k in lengths]
    ucs2 = [False] * n
    if not others:
        return counts, ucs2
    # The other texts are classified by C-level maps, not a method call each; one search of
    # their join tells whether any GSM-7 one holds an escaped character, and one encode
    # whether any UCS-2 one holds a surrogate pair (an emoji): only those are not counted by
    # their length divided.
    other_texts = list(map(texts.__getitem__, others))
    wide = list(map(bool, map(_NOT_GSM7.search, other_texts)))
    if _GSM7_ESCAPED.search("".join(compress(other_texts, map(not_, wide)))):
        for i, text in zip(compress(others, map(not_, wide)),
                           compress(other_texts, map(not_, wide)), strict=True):
            counts[i] = segment_count(text)  # accented GSM-7 texts with escaped characters
    wide_at = list(compress(others, wide))
    wide_texts = list(compress(other_texts, wide))
    for i in wide_at:
        ucs2[i] = True
    units = list(map(lengths.__getitem__, wide_at))
    joined = "".join(wide_texts)
    if len(joined.encode("utf-16-le")) != 2 * len(joined):  # some hold surrogate pairs
        chars = units
        units = list(map(rshift, map(len, map(_UTF16, wide_texts)), repeat(1)))
        # only a text with a pair and more than one segment can lose room to a pair moved
        for k in compress(range(len(units)), map(and_, map(ne, units, chars),
                                                  map(gt, units, repeat(UCS2_SINGLE)))):
            units[k] = -_fill(wide_texts[k], _SURROGATE_PAIR, UCS2_MULTI)
    table = _UCS2_SEGMENTS if max(units, default=0) < len(_UCS2_SEGMENTS) else None
    for i, k in zip(wide_at, units, strict=True):  # k < 0: segments already counted
        counts[i] = -k if k < 0 else table[k] if table else _divided(k, UCS2_SINGLE, UCS2_MULTI)
    return counts, ucs2


def forcing_in(texts: Iterable[str]) -> set[str]:
    """Every distinct character of ``texts`` that forces UCS-2 (one pass over their join)."""
    return set("".join(texts)) - _GSM7
