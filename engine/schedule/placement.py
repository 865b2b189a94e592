"""Where a recipient is, as far as the clock rules care: the time zones their number (or the
list) points to, the state or province whose rules apply, and how that was found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# How a recipient's zones were found, strongest first: the list's own column, libphonenumber's
# prefix table (by exchange, not only area code), the engine's area-code table, or nothing
# known (every zone of the country, so only the hours open in all of them).
ZoneSource = Literal["column", "libphonenumber", "area-code", "fallback"]


@dataclass(frozen=True, slots=True)
class Placement:
    """A recipient's IANA zones (several when the number spans zones: the window is the hours
    open in all of them), the two-letter state or province the rules key on (None when
    unknown: the strictest state rules then apply), and where the zones came from."""

    zones: tuple[str, ...]
    state: str | None
    source: ZoneSource
