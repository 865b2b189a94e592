"""Phone-number normalisation and the E.164 rules the API applies (MessageCreateRequest.to)."""

from __future__ import annotations

import re

_FORMATTING = str.maketrans("", "", " -().\t\u00a0")
E164 = re.compile(r"\+[1-9][0-9]{1,14}")
# High Volume SMS reaches North American numbers only: +1, then a 10-digit NANP number whose
# area code and exchange do not start with 0 or 1.
_NANP = re.compile(r"\+1[2-9][0-9]{2}[2-9][0-9]{6}")


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
