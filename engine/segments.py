"""How many SMS segments a text costs: GSM-7 when every character is in the GSM 03.38 alphabet,
UCS-2 otherwise (counted in UTF-16 code units).

A long message travels as concatenated segments whose user-data header leaves 153 septets
(GSM-7) or 67 code units (UCS-2) each. A character is never cut in two: an extension-table
character (escape septet + its own, e.g. ``€``) or a surrogate pair (an emoji) that would
straddle a boundary moves whole to the next segment, so such texts can cost one more segment
than their length divided by 153 or 67 (3GPP TS 23.038 and TS 23.040).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension-table characters take an escape septet plus their own.
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
_GSM7 = _GSM7_BASIC | _GSM7_EXTENDED

GSM7, UCS2 = "GSM-7", "UCS-2"
GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67


def is_gsm7(text: str) -> bool:
    return _GSM7.issuperset(text)


def _fill(widths: Iterable[int], size: int) -> int:
    """Segments of ``size`` units holding characters of these widths, none split."""
    segments, used = 1, 0
    for width in widths:
        if used + width > size:
            segments += 1
            used = 0
        used += width
    return segments


def segment_count(text: str) -> int:
    """Segments for one message: 160/153 septets for GSM-7, 70/67 code units for UCS-2.

    >>> segment_count("Hello"), segment_count("x" * 161), segment_count("Привет")
    (1, 2, 1)
    >>> segment_count("a" * 152 + "€" + "a" * 152)  # the € moves whole to segment 2
    3
    """
    if is_gsm7(text):
        wide = sum(c in _GSM7_EXTENDED for c in text)
        units, single, multi = len(text) + wide, GSM7_SINGLE, GSM7_MULTI
        if units > single and wide:
            return _fill((2 if c in _GSM7_EXTENDED else 1 for c in text), multi)
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi = UCS2_SINGLE, UCS2_MULTI
        if units > single and units != len(text):
            return _fill((2 if c > "\uffff" else 1 for c in text), multi)
    if units <= single:
        return 1
    return -(-units // multi)


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
