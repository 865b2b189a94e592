"""The consent export's CSV judged whole or cut short (engine/core/exportend.py): a cut
anywhere in the last row is seen, a whole last row without a line end (RFC 4180 allows it)
is accepted."""

from __future__ import annotations

import csv
import io

from engine.core.exportend import cut_short

HEADER = ("External Party Number", "Internal Party Number", "Consent Status", "Source",
          "Coverage", "Campaign Type", "Notes", "Last Modified Time")


def export(rows: int, zone: str = "Z") -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for k in range(rows):
        writer.writerow((f"+1415555{k:04d}", "+16505550100", "OptOut", "Recipient",
                         "PhoneNumber", "", "a, \"quoted\" note",
                         f"2026-12-05T03:38:{k % 60:02d}.148894{zone}"))
    return out.getvalue()


def test_whole_exports_are_accepted() -> None:
    """An export ending with its line end, or whose last row is whole without one, is read."""
    for zone in ("Z", "+00:00", "-0500"):
        text = export(3, zone)
        assert cut_short(text) is None
        assert cut_short(text.rstrip("\r\n")) is None
    assert cut_short(export(0)) is None  # no opt-outs: the header and its line end
    assert cut_short("") is None  # no CSV at all: the header check refuses it


def test_every_cut_inside_a_row_is_seen() -> None:
    """A body cut at any character that is not a line end is refused, the header included."""
    text = export(4)
    ends = {k for k, c in enumerate(text) if c in "\r\n"} | {len(text) - 1}
    for cut in range(1, len(text)):
        if cut - 1 in ends or cut in ends:  # cut at a line end (or between \r and \n)
            continue
        seen = cut_short(text[:cut])
        assert seen is not None, text[:cut][-40:]
        assert "no line end" in seen


def test_header_alone_without_a_line_end_is_refused() -> None:
    """The header without its line end: the rows after it may have been cut off."""
    seen = cut_short(",".join(HEADER))
    assert seen is not None
    assert "header" in seen
