"""What a waiting scheduled send says (engine/run/roundreport.py), without a server: the
progress line tells the opening on the clock of the recipients it waits for, not on the
machine's (UTC in cron and Kubernetes), and every count by zone labels a zone as
``a2p plan`` does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from engine.results.unsent import Fates
from engine.run.roundreport import by_zone, opening_zone, report_of, waiting_line
from engine.run.rounds import Outlook
from engine.run.scheduling import parse_scheduling
from engine.schedule.caps import cap_day
from engine.schedule.forecast import forecast
from engine.schedule.placement import Placement
from engine.schedule.rules import parse_quiet_hours
from engine.schedule.waves import status_at
from engine.schedule.windows import WindowKey
from engine.schedule.zones import FALLBACK, FALLBACK_ZONES

NOON_UTC = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # Friday 07:00 Eastern, 04:00 Pacific
TCPA = parse_quiet_hours("tcpa")
EAST = WindowKey(("America/New_York",), "")
WEST = WindowKey(("America/Los_Angeles",), "")
TORONTO = WindowKey(("America/Toronto",), "")
CENTRAL_EASTERN = WindowKey(("America/Chicago", "America/New_York"), "")


def outlook(counts: dict[WindowKey, int], now: datetime) -> Outlook:
    return Outlook(now, counts, status_at(counts, TCPA, now), cap_day(None, [], now), "send",
                   None)


def test_the_line_tells_the_opening_on_the_recipients_clock_and_in_utc() -> None:
    """Waiting for New York's 8:00, the line says 08:00 EST America/New_York with its day
    and date, and the UTC instant; on a UTC machine (cron, a pod) nothing more."""
    until = datetime(2026, 11, 20, 13, tzinfo=UTC)
    line = waiting_line(until, "quiet-hours", 1234, "America/New_York", until)
    assert line == ("waiting for the next recipients' window to open until Fri 2026-11-20 "
                    "08:00 EST America/New_York (UTC 2026-11-20 13:00); 1,234 recipients left")


def test_a_machine_in_another_zone_adds_its_own_clock() -> None:
    """On a laptop in Berlin the line adds the time there; in the recipients' own zone it
    adds nothing (the time is already on the line)."""
    until = datetime(2026, 11, 20, 13, tzinfo=UTC)
    berlin = until.astimezone(ZoneInfo("Europe/Berlin"))
    line = waiting_line(until, "quiet-hours", 5, "America/New_York", berlin)
    assert line.endswith("(UTC 2026-11-20 13:00); Fri 14:00 CET on this machine; "
                         "5 recipients left")
    new_york = until.astimezone(ZoneInfo("America/New_York"))
    assert "this machine" not in waiting_line(until, "quiet-hours", 5, "America/New_York",
                                              new_york)


def test_a_cap_day_is_told_on_the_pacific_clock_and_at_in_utc() -> None:
    """The next cap day starts at 00:00 Pacific, and the line says so on that clock;
    --at is an instant, told in UTC."""
    until = datetime(2026, 11, 21, 8, tzinfo=UTC)
    assert waiting_line(until, "daily-cap", 3, None, until) == (
        "waiting for the next day of the daily cap until Sat 2026-11-21 00:00 PST "
        "America/Los_Angeles (UTC 2026-11-21 08:00); 3 recipients left")
    assert waiting_line(until, "at", 3, None, until) == (
        "waiting for --at until Sat 2026-11-21 08:00 UTC; 3 recipients left")


def test_the_zone_waited_for_is_the_one_that_opens_next() -> None:
    """At 07:00 Eastern with New York and Los Angeles left, the run waits for New York's
    08:00; a key spanning Central and Eastern opens at 08:00 Central (09:00 Eastern), so
    the line names Chicago; of two keys opening at once, the one with more recipients."""
    early = outlook({EAST: 3, WEST: 2}, NOON_UTC)
    nxt = early.next_round(None)
    assert nxt == (datetime(2026, 11, 20, 13, tzinfo=UTC), "quiet-hours")
    assert opening_zone(early.status, early.counts, nxt[0]) == "America/New_York"
    spanning = outlook({CENTRAL_EASTERN: 4, WEST: 1}, NOON_UTC)
    nxt = spanning.next_round(None)
    assert nxt is not None
    assert nxt[0] == datetime(2026, 11, 20, 14, tzinfo=UTC)
    assert opening_zone(spanning.status, spanning.counts, nxt[0]) == "America/Chicago"
    both = outlook({EAST: 1, TORONTO: 7}, NOON_UTC)
    nxt = both.next_round(None)
    assert nxt is not None
    assert opening_zone(both.status, both.counts, nxt[0]) == "America/Toronto"
    assert opening_zone(both.status, both.counts, NOON_UTC) is None  # nothing opens then


def test_by_zone_labels_zones_as_the_plan_does() -> None:
    """A number spanning zones and one with no known place are counted under the same
    labels by ``a2p plan``, the report's byZone and each outcomes row's zone."""
    spanning = Placement(("America/Chicago", "America/New_York"), "KY", "area-code")
    placements = {spanning: 2, FALLBACK: 3}
    plan = forecast(placements, TCPA, NOON_UTC).by_zone()
    keys = {WindowKey(tuple(sorted(spanning.zones)), ""): 2,
            WindowKey(tuple(sorted(FALLBACK_ZONES)), ""): 3}
    report = report_of(outlook(keys, NOON_UTC), parse_scheduling("tcpa"))["byZone"]
    assert report == by_zone(keys) == plan == {"America/Chicago+America/New_York": 2,
                                               "unknown (every US zone)": 3}
    assert {Fates.where(spanning).zone, Fates.where(FALLBACK).zone} == set(plan)


def test_nothing_opens_within_the_horizon_is_told_in_utc() -> None:
    """A wait with no opening to name (look again in a day) still says when, in UTC."""
    until = NOON_UTC + timedelta(days=1)
    assert "until Sat 2026-11-21 12:00 UTC;" in waiting_line(until, "quiet-hours", 1, None,
                                                             until)
