"""An independent oracle for placement and the state table (the cold review's L5): for one
number per state row, and Arizona, Hawaii, Indiana, 850-432/850-222 (libphonenumber's exchange
data, the dev group's), Alaska, toll-free and Canada, the windows of Saturday 2026-11-21 and
Sunday 2026-11-22 under ``strict``, written by hand in UTC from the law (the state table's
rows, read off docs/quiet-hours.md) and a map of where each number is, not computed by the
engine's Placer or QuietHours. The engine's openings for each number must be exactly these.

November: standard time everywhere (EST UTC-5, CST -6, MST and Arizona -7, PST -8, Alaska -9,
Hawaii and Adak -10). Neither day is a legal holiday of any row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.reading.phone import Problem
from engine.schedule.rules import parse_quiet_hours
from engine.schedule.windows import open_windows, window_key
from engine.schedule.zones import placer

Window = tuple[str, str]  # opens, closes: UTC, "DD HH:MM" in November 2026
# number: (where it is, Saturday's window, Sunday's window or None: closed)
EXPECTED: dict[str, tuple[str, Window, Window | None]] = {
    # one number per state row
    "+12055550100": ("AL Birmingham, Central, 8-21", ("21 14:00", "22 03:00"),
                     ("22 14:00", "23 03:00")),
    "+12035550100": ("CT New Haven, Eastern, 9-20", ("21 14:00", "22 01:00"),
                     ("22 14:00", "23 01:00")),
    "+13055550100": ("FL Miami, Eastern, 8-20", ("21 13:00", "22 01:00"),
                     ("22 13:00", "23 01:00")),
    "+15045550100": ("LA New Orleans, Central, Sat 8-20, no Sundays", ("21 14:00", "22 02:00"),
                     None),
    "+14105550100": ("MD Baltimore, Eastern, 8-20", ("21 13:00", "22 01:00"),
                     ("22 13:00", "23 01:00")),
    "+16015550100": ("MS Jackson, Central, 8-20", ("21 14:00", "22 02:00"),
                     ("22 14:00", "23 02:00")),
    "+12015550100": ("NJ Jersey City, Eastern, 8-20", ("21 13:00", "22 01:00"),
                     ("22 13:00", "23 01:00")),
    "+14055550100": ("OK Oklahoma City, Central, 8-20", ("21 14:00", "22 02:00"),
                     ("22 14:00", "23 02:00")),
    "+12155550100": ("PA Philadelphia, Eastern, 8-21", ("21 13:00", "22 02:00"),
                     ("22 13:00", "23 02:00")),
    "+14015550100": ("RI Providence, Eastern, weekends 10-17", ("21 15:00", "21 22:00"),
                     ("22 15:00", "22 22:00")),
    "+12145550100": ("TX Dallas, Central, Sat 9-21, Sun 12-21", ("21 15:00", "22 03:00"),
                     ("22 18:00", "23 03:00")),
    "+18015550100": ("UT Salt Lake City, Mountain, 8-21", ("21 15:00", "22 04:00"),
                     ("22 15:00", "23 04:00")),
    "+12065550100": ("WA Seattle, Pacific, 8-20", ("21 16:00", "22 04:00"),
                     ("22 16:00", "23 04:00")),
    # states with TCPA alone, and the zones that trip fixed-offset arithmetic
    "+12125550100": ("NY New York, Eastern", ("21 13:00", "22 02:00"), ("22 13:00", "23 02:00")),
    "+13125550100": ("IL Chicago, Central", ("21 14:00", "22 03:00"), ("22 14:00", "23 03:00")),
    "+13035550100": ("CO Denver, Mountain", ("21 15:00", "22 04:00"), ("22 15:00", "23 04:00")),
    "+14155550100": ("CA San Francisco, Pacific", ("21 16:00", "22 05:00"),
                     ("22 16:00", "23 05:00")),
    "+16025550100": ("AZ Phoenix, no daylight saving (-7)", ("21 15:00", "22 04:00"),
                     ("22 15:00", "23 04:00")),
    "+18085550100": ("HI Honolulu (-10)", ("21 18:00", "22 07:00"), ("22 18:00", "23 07:00")),
    # 907 is all of Alaska, the Aleutians (America/Adak, -10) too: 8:00 there to 21:00 in
    # Anchorage (-9)
    "+19075550100": ("AK, Anchorage and Adak", ("21 18:00", "22 06:00"),
                     ("22 18:00", "23 06:00")),
    "+13175550100": ("IN Indianapolis, Eastern", ("21 13:00", "22 02:00"),
                     ("22 13:00", "23 02:00")),
    # northwest Indiana is Central, and a few 219 exchanges lie in Eastern counties: the
    # shipped table keeps both (8:00 Central to 21:00 Eastern), the stricter reading
    "+12195550100": ("IN Gary, Central and Eastern", ("21 14:00", "22 02:00"),
                     ("22 14:00", "23 02:00")),
    # one area code, two zones: libphonenumber's exchange data (the timezones extra)
    "+18504325555": ("FL Pensacola 850-432, Central, 8-20", ("21 14:00", "22 02:00"),
                     ("22 14:00", "23 02:00")),
    "+18502225555": ("FL Tallahassee 850-222, Eastern, 8-20", ("21 13:00", "22 01:00"),
                     ("22 13:00", "23 01:00")),
    # nothing known: every zone of the fifty states and every row at once (RI's weekend
    # 10-17 everywhere: 10:00 Hawaii to 17:00 Eastern; Louisiana: no Sundays)
    "+18005550100": ("toll-free", ("21 20:00", "21 22:00"), None),
    # Canada: TCPA's hours in the province's zone (no row)
    "+14165550100": ("ON Toronto, Eastern", ("21 13:00", "22 02:00"), ("22 13:00", "23 02:00")),
    "+16045550100": ("BC Vancouver, Pacific", ("21 16:00", "22 05:00"),
                     ("22 16:00", "23 05:00")),
    "+15145550100": ("QC Montreal, Eastern", ("21 13:00", "22 02:00"), ("22 13:00", "23 02:00")),
}

# Saturday 12:00 UTC: every Friday window has closed (21:00 Hawaii is 07:00 UTC) and no
# Saturday one has opened (8:00 Eastern is 13:00 UTC); two days on, no Monday one has.
START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _utc(text: str) -> datetime:
    day, clock = text.split()
    hour, minute = map(int, clock.split(":"))
    return datetime(2026, 11, int(day), hour, minute, tzinfo=UTC)


@pytest.mark.parametrize("number", sorted(EXPECTED))
def test_each_number_s_weekend_windows_are_the_hand_written_ones(number: str) -> None:
    """The engine's strict openings for the number, Saturday and Sunday, are exactly the
    windows the law and the number's place give."""
    where, saturday, sunday = EXPECTED[number]
    placed = placer()(number)
    assert not isinstance(placed, Problem)
    policy = parse_quiet_hours("strict")
    openings = open_windows(window_key(placed, policy), policy, START,
                            horizon=timedelta(days=2), margin=timedelta(0))
    got = [(o.opens, o.closes) for o in openings]
    expected = [(_utc(a), _utc(b)) for a, b in [saturday, *([sunday] if sunday else [])]]
    assert got == expected, f"{number} ({where}): placed {placed}"
