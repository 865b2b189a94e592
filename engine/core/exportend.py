"""Whether the consent export's CSV came whole: a body cut short by a server or a gateway
(a 200 with a valid Content-Length holding the first part of the CSV) would be read as fewer
opt-outs, and the missing ones texted.

The simulator ends every row with a line end, as a CSV writer does; RFC 4180 lets the last
row go without one, and the spec (exportSmsConsentRecords) says nothing. So a body whose last
line has no line end is accepted only when that line is whole:

- the header alone, when it is one of the whole headers known (``consent.HEADERS``: an
  account without records);
- a data row with the header's number of cells whose last cell is whole for its column: a
  Last Modified Time with its zone, or of the same form as the row before it (an export
  whose times carry no zone writes every time alike, and a cut time is shorter); a status or
  a source of its enum; any other column, a cell of the same form as the row before it's.

A cut anywhere in a row leaves fewer cells or a last cell that is not whole. A cut exactly
at a line end cannot be seen here.

Pure: works on the decoded text.
"""

from __future__ import annotations

import csv
import re

from engine.core.consent import COLUMN_SOURCE, COLUMN_STATUS, COLUMN_TIME, COLUMNS, HEADERS
from engine.core.optouts import STATUSES

# A whole ISO 8601 time with its zone: what the Last Modified Time column holds
TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})")
SOURCES = frozenset({"recipient", "api", "upstream", "carrier"})  # SmsOptSourceEnum


def form(cell: str) -> str:
    """A cell's shape: its digits as 9 and its letters as a (``2026-12-05T03:38`` is
    ``9999-99-99a99:99``): two whole times of one export have the same."""
    return re.sub(r"[^\W\d_]", "a", re.sub(r"\d", "9", cell.strip()))


def cut_short(text: str) -> str | None:
    """None when ``text`` ends whole; else what was seen (its last line, shortened)."""
    if not text or text.endswith(("\n", "\r")):
        return None
    lines = text.splitlines()
    last = lines[-1]
    seen = f"its last line {last[-60:]!r} has no line end"
    rows = [next(csv.reader([line]), []) for line in lines[-2:]] if len(lines) > 1 else []
    header = next(csv.reader([lines[0]]), [])
    if len(lines) < 2:
        if tuple(name.strip().lstrip("\ufeff").casefold() for name in header) in HEADERS:
            return None  # a known header, whole: an account without records
        return f"{seen} and is the header, not one of the known ones: it may have been cut"
    row, before = rows[-1], rows[0] if len(lines) > 2 else None
    if len(row) != len(header) or not row:
        return f"{seen} and is not a whole record ({len(row)} of {len(header)} cells)"
    column = COLUMNS.get(header[-1].strip().lstrip("\ufeff").casefold())
    cell = row[-1].strip()
    like_before = before is not None and len(before) == len(row) and \
        form(before[-1]) == form(cell) and bool(cell)
    whole = {COLUMN_TIME: bool(TIME.fullmatch(cell)) or like_before,
             COLUMN_STATUS: cell.casefold() in STATUSES,
             COLUMN_SOURCE: cell.casefold() in SOURCES}.get(column or "", like_before)
    if not whole:
        return f"{seen} and its last cell {cell[-40:]!r} is not whole"
    return None
