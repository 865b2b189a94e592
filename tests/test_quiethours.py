"""Quiet-hours policies: the parser, the state table and the local windows it leaves."""

from __future__ import annotations

from datetime import date, timedelta

import holidays
import pytest

from engine.errors import ConfigError
from engine.schedule import statetable
from engine.schedule.legaldays import FEDERAL, easter, holidays_in, is_holiday
from engine.schedule.rules import (
    ANY_STATE,
    NO_STATE,
    STATE_RULES,
    QuietHours,
    parse_quiet_hours,
    rules_for,
    show,
)

STRICT = parse_quiet_hours("strict")
TCPA = parse_quiet_hours("tcpa")
SATURDAY, SUNDAY, MONDAY = date(2026, 12, 5), date(2026, 12, 6), date(2026, 12, 7)
BANNING = ("AL", "LA", "MS", "RI", "UT")


def hours(policy: QuietHours, state: str | None, day: date) -> str:
    return show(policy.hours(rules_for(state, policy), day))


@pytest.mark.parametrize(("text", "shown"), [
    ("off", "off"), ("TCPA", "tcpa"), (" strict ", "strict"), ("09:00-19:00", "09:00-19:00"),
    ("9:30 - 18:00", "09:30-18:00")])
def test_the_four_policies_parse(text: str, shown: str) -> None:
    """off, tcpa, strict and a local HH:MM-HH:MM window are the policies --quiet-hours takes."""
    assert str(parse_quiet_hours(text)) == shown


@pytest.mark.parametrize(("text", "named", "hint"), [
    ("night", "'night' is not a policy", "HH:MM-HH:MM"),
    ("25:00-26:00", "'25:00' in '25:00-26:00' is not a time of day", "24-hour clock"),
    ("19:00-09:00", "'19:00-09:00' ends before it starts", "opening first"),
    ("21:00-23:30", "leaves no time inside 08:00-21:00", "overlap 08:00-21:00"),
    ("6-9", "'6' in '6-9' is not a time of day", "e.g. 08:00 or 20:30")])
def test_a_bad_policy_is_refused_naming_the_value_and_the_fix(text: str, named: str,
                                                              hint: str) -> None:
    """A policy that cannot be used says which value is wrong and what to write instead."""
    with pytest.raises(ConfigError, match="--quiet-hours") as caught:
        parse_quiet_hours(text)
    assert named in str(caught.value)
    assert hint in str(caught.value)


def test_tcpa_is_eight_to_nine_every_day_whatever_the_state() -> None:
    """Under tcpa a Texas Sunday and a Rhode Island Saturday are 8:00-21:00 like any day."""
    assert {hours(TCPA, s, d) for s in ("TX", "RI", "LA", None) for d in (SATURDAY, SUNDAY)} \
        == {"08:00-21:00"}


@pytest.mark.parametrize(("state", "day", "expected"), [
    ("FL", SATURDAY, "08:00-20:00"), ("OK", MONDAY, "08:00-20:00"),
    ("MD", SUNDAY, "08:00-20:00"), ("WA", SATURDAY, "08:00-20:00"),
    ("MS", MONDAY, "08:00-20:00"), ("CT", SUNDAY, "09:00-20:00"),
    ("NJ", MONDAY, "08:00-20:00"), ("NY", SUNDAY, "08:00-21:00"),
    ("TX", SATURDAY, "09:00-21:00"), ("TX", SUNDAY, "12:00-21:00"),
    ("LA", SATURDAY, "08:00-20:00"), ("LA", SUNDAY, "closed"),
    ("RI", MONDAY, "09:00-18:00"), ("RI", SATURDAY, "10:00-17:00"),
    ("RI", SUNDAY, "10:00-17:00")])
def test_strict_applies_each_states_hours(state: str, day: date, expected: str) -> None:
    """Under strict each state's row narrows 8:00-21:00 (TX opens at noon on Sundays, LA not
    at all, RI keeps shorter weekend hours); a state without a row keeps tcpa."""
    assert hours(STRICT, state, day) == expected


@pytest.mark.parametrize("state", BANNING)
def test_the_holiday_states_are_closed_on_a_legal_holiday(state: str) -> None:
    """Thanksgiving 2026 closes AL, LA, MS, RI and UT all day, not Texas."""
    thanksgiving = date(2026, 11, 26)
    assert hours(STRICT, state, thanksgiving) == "closed"
    assert hours(STRICT, "TX", thanksgiving) == "09:00-21:00"


def test_louisiana_closes_on_its_own_holidays_and_the_observed_ones() -> None:
    """Mardi Gras and Good Friday close Louisiana; so does the Friday a Saturday July 4 is
    observed on, and the Monday after a Sunday Christmas (2022)."""
    closed = [date(2026, 2, 17), date(2026, 4, 3), date(2026, 7, 3), date(2022, 12, 26)]
    assert [hours(STRICT, "LA", d) for d in closed] == ["closed"] * 4
    assert hours(STRICT, "LA", date(2026, 2, 18)) == "08:00-20:00"


def test_pennsylvania_bans_christmas_only() -> None:
    """PA is closed on Christmas Day and open on Thanksgiving."""
    assert hours(STRICT, "PA", date(2026, 12, 25)) == "closed"
    assert hours(STRICT, "PA", date(2026, 11, 26)) == "08:00-21:00"


def test_an_unknown_state_gets_the_strictest_rules_of_all() -> None:
    """A number whose state is unknown is texted only when every state's row allows it:
    9:00-18:00 on weekdays, 10:00-17:00 on Saturdays, never on Sundays or holidays."""
    assert rules_for(None, STRICT) == ANY_STATE
    assert [hours(STRICT, None, d) for d in (MONDAY, SATURDAY, SUNDAY, date(2026, 12, 25))] \
        == ["09:00-18:00", "10:00-17:00", "closed", "closed"]
    assert hours(STRICT, None, date(2026, 8, 10)) == "closed"  # RI's Victory Day


def test_the_users_window_is_combined_with_strict() -> None:
    """--quiet-hours 07:00-19:00 keeps the state rules: TX opens at 9:00 on Saturdays and
    noon on Sundays, FL at 8:00, and nothing goes after 19:00."""
    own = parse_quiet_hours("07:00-19:00")
    assert [hours(own, "TX", SATURDAY), hours(own, "TX", SUNDAY), hours(own, "FL", SATURDAY),
            hours(own, "LA", SUNDAY)] == ["09:00-19:00", "12:00-19:00", "08:00-19:00", "closed"]


def test_off_opens_the_whole_day() -> None:
    """Under off nothing is held back, so the window is the whole day."""
    assert hours(parse_quiet_hours("off"), "LA", SUNDAY) == "00:00-24:00"
    assert rules_for("TX", TCPA) == NO_STATE


def test_every_row_of_the_table_names_known_sources() -> None:
    """Each state row cites sources the table lists, and the table carries its version date."""
    assert date.fromisoformat(statetable.VERSION)
    for state, rule in STATE_RULES.items():
        assert rule.sources, state
        assert set(rule.sources) <= set(statetable.SOURCES), state


@pytest.mark.parametrize(("year", "sunday"), [
    (2024, date(2024, 3, 31)), (2025, date(2025, 4, 20)), (2026, date(2026, 4, 5)),
    (2038, date(2038, 4, 25))])
def test_easter_is_computed_right(year: int, sunday: date) -> None:
    """Good Friday and Mardi Gras hang on Easter, so its date must be right."""
    assert easter(year) == sunday


@pytest.mark.parametrize("state", BANNING)
def test_no_legal_holiday_the_holidays_package_knows_is_missed(state: str) -> None:
    """Every date the maintained holidays package gives for these states, 2021-2040, is
    closed here (the engine may close more: the federal ones a state skips, observed days)."""
    banned = STATE_RULES[state].holidays
    known = holidays.country_holidays("US", subdiv=state, years=range(2021, 2041))
    missed = sorted(d for d in known if not is_holiday(d, banned))
    assert missed == []


def test_the_federal_holidays_match_the_package() -> None:
    """The federal rules give the same dates as the holidays package, observed days included."""
    package = holidays.country_holidays("US", years=range(2021, 2041))
    ours = {d for year in range(2021, 2041) for d in holidays_in(year, FEDERAL)}
    assert ours == set(package)


def test_a_saturday_new_year_is_observed_on_the_friday_before() -> None:
    """New Year's Day 2028 is a Saturday: Friday December 31, 2027 is closed in RI."""
    assert is_holiday(date(2027, 12, 31), FEDERAL)
    assert hours(STRICT, "RI", date(2027, 12, 31)) == "closed"
    assert hours(STRICT, "RI", date(2027, 12, 31) - timedelta(days=1)) == "09:00-18:00"
