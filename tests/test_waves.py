"""Waves: the schedule a national list gets, and what is open at a given instant."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from engine.schedule.placement import Placement
from engine.schedule.rules import parse_quiet_hours
from engine.schedule.waves import schedule_waves, status_at
from engine.schedule.windows import Opening, WindowKey, window_key

STRICT = parse_quiet_hours("strict")
EASTERN = ZoneInfo("America/New_York")
SATURDAY_5AM_EASTERN = datetime(2026, 12, 5, 5, tzinfo=EASTERN)
ALL_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
             "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu")
NATIONAL = {  # a national mix: (zones, state) -> recipients
    (("America/New_York",), "NY"): 300, (("America/New_York",), "FL"): 200,
    (("America/New_York",), "RI"): 20, (("America/Chicago",), "TX"): 250,
    (("America/Chicago",), "LA"): 40, (("America/Chicago", "America/Denver"), "NE"): 15,
    (("America/Phoenix",), "AZ"): 60, (("America/Los_Angeles",), "CA"): 390,
    (("Pacific/Honolulu",), "HI"): 10, (ALL_ZONES, None): 5,
}


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
       second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def key(zones: tuple[str, ...], state: str | None) -> WindowKey:
    return window_key(Placement(zones, state, "area-code"), STRICT)


def national() -> dict[WindowKey, int]:
    counts: dict[WindowKey, int] = {}
    for (zones, state), n in NATIONAL.items():
        counts[key(zones, state)] = counts.get(key(zones, state), 0) + n
    return counts


def test_a_national_list_from_five_am_eastern_on_saturday_goes_out_in_this_order() -> None:
    """Started at 05:00 Eastern on a Saturday under strict, the first wave is Eastern at 8:00
    (Florida's closes at 20:00, the rest at 21:00), then Louisiana at 8:00 Central, then
    Rhode Island (10:00 on weekends), Texas (9:00 Central), Mountain and Arizona, Pacific,
    Hawaii, and last the numbers whose zone and state are unknown (15:00-17:00 Eastern)."""
    plan = schedule_waves(national(), STRICT, SATURDAY_5AM_EASTERN)
    shown = [(f"{w.opening.opens.astimezone(EASTERN):%a %H:%M}",
              f"{w.opening.deadline:%H:%MZ}", w.count) for w in plan.waves]
    assert shown == [
        ("Sat 08:00", "00:50Z", 200),   # FL, 8:00-20:00
        ("Sat 08:00", "01:50Z", 300),   # NY, tcpa
        ("Sat 09:00", "01:50Z", 40),    # LA, 8:00-20:00 Central
        ("Sat 10:00", "21:50Z", 20),    # RI, 10:00-17:00 on Saturdays
        ("Sat 10:00", "02:50Z", 250),   # TX, 9:00-21:00 Central
        ("Sat 10:00", "02:50Z", 15),    # NE, 8:00 Mountain to 21:00 Central
        ("Sat 10:00", "03:50Z", 60),    # AZ, MST all year
        ("Sat 11:00", "04:50Z", 390),   # CA
        ("Sat 13:00", "06:50Z", 10),    # HI
        ("Sat 15:00", "21:50Z", 5),     # unknown: every zone, every state's rules
    ]
    assert plan.count == sum(NATIONAL.values())
    assert plan.unscheduled == ()
    assert str(plan.waves[0].local()[0]) == "America/New_York Sat 2026-12-05 08:00-20:00 EST"


def test_a_wave_lists_its_later_openings_for_what_it_could_not_send() -> None:
    """Louisiana's later openings skip Sunday: the next is Monday 8:00 Central."""
    plan = schedule_waves({key(("America/Chicago",), "LA"): 1}, STRICT, SATURDAY_5AM_EASTERN)
    (wave,) = plan.waves
    assert wave.later[0].opens == at(2026, 12, 7, 14)
    assert all(o.opens.astimezone(ZoneInfo("America/Chicago")).weekday() != 6
               for o in wave.later)


def test_keys_with_the_same_windows_share_one_wave() -> None:
    """Maryland and Florida numbers in Eastern time have the same hours: one wave carries both."""
    counts = {key(("America/New_York",), "MD"): 3, key(("America/New_York",), "FL"): 4}
    (wave,) = schedule_waves(counts, STRICT, SATURDAY_5AM_EASTERN).waves
    assert wave.count == 7
    assert [k.rules for k in wave.keys] == ["FL", "MD"]


def test_a_key_that_never_opens_before_the_expiry_is_unscheduled() -> None:
    """With --expire-at 14:30 UTC Saturday, Pacific numbers (opening 16:00 UTC) get no wave:
    they are reported apart, with their count, instead of waiting past the expiry."""
    counts = {key(("America/New_York",), "NY"): 2, key(("America/Los_Angeles",), "CA"): 9}
    plan = schedule_waves(counts, STRICT, SATURDAY_5AM_EASTERN, until=at(2026, 12, 5, 14, 30))
    assert [(w.keys[0].zones, w.opening.deadline) for w in plan.waves] \
        == [(("America/New_York",), at(2026, 12, 5, 14, 30))]
    assert plan.unscheduled == ((key(("America/Los_Angeles",), "CA"), 9),)


def test_status_tells_what_is_open_until_when_and_what_opens_next() -> None:
    """At 09:30 Eastern on Saturday Eastern and Louisiana numbers are open, the first to
    close is Florida at 19:50 Eastern, and the next to open are the 10:00 Eastern ones."""
    counts = national()
    now = status_at(counts, STRICT, at(2026, 12, 5, 14, 30))
    assert sorted(k.rules for k, _ in now.open) == ["", "FL", "LA"]
    assert now.until == at(2026, 12, 6, 0, 50)
    assert now.next_opening == at(2026, 12, 5, 15)
    assert len(now.open) + len(now.waiting) + len(now.closed) == len(counts)


def test_the_margin_counts_as_closed_in_the_status() -> None:
    """At 20:55 Eastern a New York number is inside the margin: waiting, for 8:00 Sunday."""
    ny = key(("America/New_York",), "NY")
    now = status_at([ny], STRICT, at(2026, 12, 6, 1, 55))
    assert not now.is_open(ny)
    assert now.waiting == ((ny, at(2026, 12, 6, 13)),)


def test_a_key_with_no_opening_in_the_horizon_is_closed() -> None:
    """A Louisiana number asked on Saturday night with a one-day horizon has none left
    (Sunday is closed): it is neither open nor waiting."""
    la = key(("America/Chicago",), "LA")
    now = status_at([la], STRICT, at(2026, 12, 6, 3), horizon=timedelta(days=1))
    assert (now.open, now.waiting, now.closed) == ((), (), (la,))
    assert now.next_opening is None


def test_the_schedule_goes_to_json_and_its_keys_and_openings_come_back() -> None:
    """A journal can keep the schedule: keys and openings read back equal to what was
    written, instants as UTC with a Z."""
    plan = schedule_waves(national(), STRICT, SATURDAY_5AM_EASTERN)
    data = json.loads(json.dumps(plan.as_json()))
    first = data["waves"][0]
    assert first["opens"] == "2026-12-05T13:00:00Z"
    assert first["local"] == ["America/New_York Sat 2026-12-05 08:00-20:00 EST"]
    assert [WindowKey.from_json(k) for w in data["waves"] for k in w["keys"]] \
        == [k for w in plan.waves for k in w.keys]
    assert [Opening.from_json(w) for w in data["waves"]] == [w.opening for w in plan.waves]
    assert sum(w["count"] for w in data["waves"]) == plan.count
