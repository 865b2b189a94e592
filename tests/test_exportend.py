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


def test_a_known_header_alone_without_a_line_end_is_whole() -> None:
    """The spec's header or the guide's (any case), alone without its line end, is an account
    without records; any cut of the header is refused."""
    assert cut_short(",".join(HEADER)) is None
    assert cut_short("\ufeff" + ",".join(HEADER).lower()) is None
    assert cut_short("FROM,TO,STATUS,SOURCE") is None
    text = ",".join(HEADER)
    for cut in range(1, len(text)):
        seen = cut_short(text[:cut])
        assert seen is not None, text[:cut]
        assert "header" in seen


def test_a_whole_last_row_whose_time_has_no_zone_is_whole() -> None:
    """Times written without a zone (every row alike): the last row without a line end is
    whole, and a cut inside it is still seen."""
    text = export(3, zone="").rstrip("\r\n")
    assert cut_short(text) is None
    for cut in range(len(text) - 30, len(text)):
        assert cut_short(text[:cut]) is not None, text[:cut][-40:]


def test_the_guides_form_without_a_final_line_end() -> None:
    """FROM,TO,STATUS,SOURCE whose last row ends without a line end is whole; cut inside its
    source it is not."""
    text = "FROM,TO,STATUS,SOURCE\r\n+16505550100,+14155550100,OptOut,Recipient\r\n" \
           "+16505550100,+14155550101,OptOut,Api"
    assert cut_short(text) is None
    assert cut_short(text[:-1]) is not None
    assert cut_short(text[:-2]) is not None
