"""Open windows in UTC: DST changes, zones that never shift, several zones, the margin."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import ConfigError
from engine.schedule.placement import Placement
from engine.schedule.rules import QuietHours, parse_quiet_hours
from engine.schedule.windows import (
    DEFAULT_MARGIN,
    Opening,
    WindowKey,
    open_windows,
    window_key,
)

TCPA = parse_quiet_hours("tcpa")
STRICT = parse_quiet_hours("strict")
NEW_YORK = ZoneInfo("America/New_York")
US_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
            "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
       second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def place(*zones: str, state: str | None = None) -> Placement:
    return Placement(zones, state, "area-code")


def spans(where: Placement, start: datetime, days: int, policy: QuietHours = TCPA,
          margin: timedelta = timedelta(0)) -> list[tuple[datetime, datetime]]:
    found = open_windows(where, policy, start, horizon=timedelta(days=days), margin=margin)
    return [(o.opens, o.closes) for o in found]


def local_hours(openings: list[tuple[datetime, datetime]], zone: str) -> set[str]:
    tz = ZoneInfo(zone)
    return {f"{a.astimezone(tz):%H:%M}-{b.astimezone(tz):%H:%M}" for a, b in openings}


def test_new_york_keeps_eight_to_nine_across_spring_forward() -> None:
    """On March 8, 2026 New York moves to EDT: its 8:00-21:00 moves an hour earlier in UTC,
    and stays 8:00-21:00 on the local clock every day around the change."""
    found = spans(place("America/New_York"), at(2026, 3, 6, 6), 4)
    assert found == [(at(2026, 3, 6, 13), at(2026, 3, 7, 2)),
                     (at(2026, 3, 7, 13), at(2026, 3, 8, 2)),
                     (at(2026, 3, 8, 12), at(2026, 3, 9, 1)),
                     (at(2026, 3, 9, 12), at(2026, 3, 10, 1))]
    assert local_hours(found, "America/New_York") == {"08:00-21:00"}


def test_new_york_keeps_eight_to_nine_across_fall_back() -> None:
    """On November 1, 2026 New York returns to EST: the Sunday window opens at 13:00 UTC,
    an hour later than Saturday's, still 8:00 local."""
    found = spans(place("America/New_York"), at(2026, 10, 31, 6), 2)
    assert found == [(at(2026, 10, 31, 12), at(2026, 11, 1, 1)),
                     (at(2026, 11, 1, 13), at(2026, 11, 2, 2))]
    assert local_hours(found, "America/New_York") == {"08:00-21:00"}


@pytest.mark.parametrize(("zone", "hour"), [("America/Phoenix", 15), ("Pacific/Honolulu", 18)])
def test_arizona_and_hawaii_never_shift(zone: str, hour: int) -> None:
    """Across the March DST change Phoenix (MST) and Honolulu (HST) open at the same UTC
    hour every day: they do not observe DST."""
    found = spans(place(zone), at(2026, 3, 5, 12), 7)
    assert {a.hour for a, _ in found} == {hour}
    assert len(found) == 7
    assert local_hours(found, zone) == {"08:00-21:00"}


@pytest.mark.parametrize(("zone", "winter", "summer"), [
    ("America/Indiana/Indianapolis", 13, 12), ("America/Indiana/Knox", 14, 13)])
def test_indiana_observes_dst_in_both_its_zones(zone: str, winter: int, summer: int) -> None:
    """Indiana has observed DST since 2006, Eastern and Central counties alike: 8:00 local
    is an hour earlier in UTC after March 8."""
    found = spans(place(zone), at(2026, 3, 6, 6), 4)
    assert [a.hour for a, _ in found] == [winter, winter, summer, summer]


def test_two_zones_open_only_where_both_are_open() -> None:
    """A number in Eastern and Central time is texted from 8:00 Central to 21:00 Eastern."""
    found = spans(place("America/Chicago", "America/New_York"), at(2026, 12, 7, 6), 1)
    assert found == [(at(2026, 12, 7, 14), at(2026, 12, 8, 2))]


def test_the_order_of_zones_does_not_change_the_key() -> None:
    """Zones given in any order, or twice, make the same key: recipients group together."""
    a = window_key(place("America/Chicago", "America/New_York"), TCPA)
    b = window_key(place("America/New_York", "America/Chicago", "America/New_York"), TCPA)
    assert a == b == WindowKey(("America/Chicago", "America/New_York"), "")


def test_an_unknown_number_gets_the_hours_open_everywhere_under_every_rule() -> None:
    """All US zones and no known state under strict (every state's row at once, 9:00-18:00
    on weekdays): on a Monday it opens at 9:00 in Honolulu (19:00 UTC) and closes at 18:00 in
    New York (23:00 UTC), and on Sunday it does not open at all."""
    found = spans(place(*US_ZONES), at(2026, 12, 5, 6), 3, STRICT)
    monday = [(a, b) for a, b in found if a.weekday() == 0]
    assert monday == [(at(2026, 12, 7, 19), at(2026, 12, 7, 23))]
    assert not [a for a, _ in found if a.astimezone(NEW_YORK).weekday() == 6]


def test_texas_opens_at_noon_on_sunday_in_utc_too() -> None:
    """A Texas number in Central time opens at 18:00 UTC on a Sunday, 15:00 UTC on Saturday."""
    found = spans(place("America/Chicago", state="TX"), at(2026, 12, 5, 6), 2, STRICT)
    assert [a for a, _ in found] == [at(2026, 12, 5, 15), at(2026, 12, 6, 18)]


def test_the_margin_stops_posts_before_the_close() -> None:
    """With the default 10-minute margin the last POST in New York starts before 20:50; at
    20:55 local the day's window is over and the next opening is 8:00 the next day."""
    opening = open_windows(place("America/New_York"), TCPA, at(2026, 12, 7, 12))[0]
    assert opening.deadline == opening.closes - DEFAULT_MARGIN == at(2026, 12, 8, 1, 50)
    assert not opening.allows(at(2026, 12, 8, 1, 50))
    assert opening.allows(at(2026, 12, 8, 1, 49, 59))
    late = open_windows(place("America/New_York"), TCPA, at(2026, 12, 8, 1, 55))[0]
    assert late.opens == at(2026, 12, 8, 13)


def test_an_opening_under_way_starts_at_the_instant_asked() -> None:
    """Asked at 15:00 UTC, New York's opening starts then, not at 13:00."""
    opening = open_windows(place("America/New_York"), TCPA, at(2026, 12, 7, 15))[0]
    assert opening == Opening(at(2026, 12, 7, 15), at(2026, 12, 8, 1, 50), at(2026, 12, 8, 2))


def test_until_cuts_the_openings_at_the_expiry() -> None:
    """--expire-at 18:00 UTC ends the day's opening there and drops the later ones."""
    found = open_windows(place("America/New_York"), TCPA, at(2026, 12, 7, 12),
                         until=at(2026, 12, 7, 18))
    assert [(o.opens, o.deadline) for o in found] == [(at(2026, 12, 7, 13), at(2026, 12, 7, 18))]


def test_off_is_one_opening_over_the_horizon() -> None:
    """Under off a recipient is open from the start to the horizon's end, margin or not."""
    off = parse_quiet_hours("off")
    found = open_windows(place("America/New_York"), off, at(2026, 12, 7, 3),
                         horizon=timedelta(days=1))
    assert found == (Opening(at(2026, 12, 7, 3), at(2026, 12, 8, 3), at(2026, 12, 8, 3)),)


def test_a_naive_instant_and_an_unknown_zone_are_refused() -> None:
    """A time without a zone is a caller's bug; a zone the tz database lacks is named."""
    with pytest.raises(ValueError, match="no time zone"):
        open_windows(place("America/New_York"), TCPA, datetime(2026, 12, 7, 12))
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        open_windows(place("Mars/Olympus"), TCPA, at(2026, 12, 7, 12))


def test_every_opening_lies_inside_eight_to_nine_in_every_zone_for_a_year() -> None:
    """Over a whole year of openings for several zones at once, every opening starts at or
    after 8:00 and ends by 21:00 on each zone's own clock."""
    zones = ("America/New_York", "America/Phoenix", "America/Los_Angeles")
    found = open_windows(place(*zones), TCPA, at(2026, 1, 1, 6), horizon=timedelta(days=366),
                         margin=timedelta(0))
    assert len(found) == 366
    for opening in found:
        for zone in map(ZoneInfo, zones):
            opens, closes = opening.opens.astimezone(zone), opening.closes.astimezone(zone)
            assert opens.date() == closes.date()
            assert opens.hour >= 8
            assert (closes.hour, closes.minute) <= (21, 0)


ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
         "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu",
         "America/Indiana/Knox", "America/Boise")


@settings(max_examples=150, deadline=None, derandomize=True)
@given(zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True),
       state=st.sampled_from([None, "TX", "LA", "RI", "NY", "CT", "UT"]),
       policy=st.sampled_from(["tcpa", "strict", "07:30-19:15"]),
       start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31),
                          timezones=st.just(UTC)))
def test_every_opening_is_inside_the_rules_on_every_zones_own_clock(
        zones: list[str], state: str | None, policy: str, start: datetime) -> None:
    """Whatever the zones, state, policy and start (DST changes and holidays included),
    every moment of every opening is inside the day's window on each zone's own clock, and
    the deadline keeps the margin before the close."""
    quiet = parse_quiet_hours(policy)
    key = window_key(place(*zones, state=state), quiet)
    for opening in open_windows(key, quiet, start, horizon=timedelta(days=9)):
        assert opening.deadline == opening.closes - DEFAULT_MARGIN
        assert start <= opening.opens < opening.deadline
        for zone in map(ZoneInfo, zones):
            opens, closes = opening.opens.astimezone(zone), opening.closes.astimezone(zone)
            window = quiet.hours(key.rules, opens.date())
            assert window is not None
            assert window[0] <= opens.hour * 60 + opens.minute
            assert closes.date() == opens.date() or closes.time() == time()
            assert closes.hour * 60 + closes.minute <= window[1]
