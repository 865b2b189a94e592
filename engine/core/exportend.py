"""Whether the consent export's CSV came whole: a body cut short by a server or a gateway
(a 200 with a valid Content-Length holding the first part of the CSV) would be read as fewer
opt-outs, and the missing ones texted.

The simulator ends every row with a line end, as a CSV writer does; RFC 4180 lets the last
row go without one, and the spec (exportSmsConsentRecords) says nothing. So a body whose last
line has no line end is accepted only when that line is a whole record: a data row with the
header's number of cells whose last cell, the Last Modified Time, is a full ISO 8601 time
with its zone (a cut anywhere in a row leaves fewer cells or a time without its zone). A cut
exactly at a line end cannot be seen here.

Pure: works on the decoded text.
"""

from __future__ import annotations

import csv
import re

# A whole ISO 8601 time with its zone: what the Last Modified Time column holds
TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})")


def cut_short(text: str) -> str | None:
    """None when ``text`` ends whole; else what was seen (its last line, shortened)."""
    if not text or text.endswith(("\n", "\r")):
        return None
    lines = text.splitlines()
    last = lines[-1]
    seen = f"its last line {last[-60:]!r} has no line end"
    if len(lines) < 2:
        return f"{seen} and is the header: rows may have been cut off"
    header, row = (next(csv.reader([line]), []) for line in (lines[0], last))
    if len(row) != len(header) or not row or not TIME.fullmatch(row[-1].strip()):
        return f"{seen} and is not a whole record ({len(row)} of {len(header)} cells)"
    return None
