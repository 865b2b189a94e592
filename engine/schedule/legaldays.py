"""Legal holidays by rule, for the states whose telemarketing rules ban texts on them.

Computed, not looked up: the federal holidays (5 U.S.C. 6103, Juneteenth from 2021) with
their observed days (a Saturday holiday is also kept on the Friday before, a Sunday one on the
Monday after), and the few state holidays of the states with a holiday ban. The `holidays`
package is the oracle in the tests (tests/test_quiethours.py): every date it names for those
states must be in these sets, so a rule it learns that this file lacks fails there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import lru_cache

MON, TUE, THU = 0, 1, 3


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th (1-based; -1 for the last) given weekday of a month."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def easter(year: int) -> date:
    """Western Easter Sunday (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


def _fixed(month: int, day: int, since: int = 0) -> Callable[[int], date | None]:
    return lambda year: date(year, month, day) if year >= since else None


def _nth(month: int, weekday: int, n: int) -> Callable[[int], date | None]:
    return lambda year: nth_weekday(year, month, weekday, n)


def _election_day(year: int) -> date | None:
    # Louisiana keeps the general election day (even years) as a legal holiday.
    return nth_weekday(year, 11, MON, 1) + timedelta(days=1) if year % 2 == 0 else None


# name -> (the rule giving the date in a year, whether a weekend date is also observed)
RULES: dict[str, tuple[Callable[[int], date | None], bool]] = {
    "new-year": (_fixed(1, 1), True),
    "mlk": (_nth(1, MON, 3), False),
    "washington": (_nth(2, MON, 3), False),
    "memorial": (_nth(5, MON, -1), False),
    "juneteenth": (_fixed(6, 19, since=2021), True),
    "independence": (_fixed(7, 4), True),
    "labor": (_nth(9, MON, 1), False),
    "columbus": (_nth(10, MON, 2), False),
    "veterans": (_fixed(11, 11), True),
    "thanksgiving": (_nth(11, THU, 4), False),
    "christmas": (_fixed(12, 25), True),
    # State legal holidays (Ala. Code 1-3-8, La. R.S. 1:55, Miss. Code 3-3-7, R.I. Gen. Laws
    # 25-1-1, Utah Code 63G-1-301), as the holidays package also has them.
    "confederate-memorial-al": (_nth(4, MON, 4), False),
    "jefferson-davis": (_nth(6, MON, 1), False),
    "confederate-memorial-ms": (_nth(4, MON, -1), False),
    "mardi-gras": (lambda year: easter(year) - timedelta(days=47), False),
    "good-friday": (lambda year: easter(year) - timedelta(days=2), False),
    "election-day": (_election_day, False),
    "victory-day": (_nth(8, MON, 2), False),
    "pioneer-day": (_fixed(7, 24), True),
}

FEDERAL = frozenset({"new-year", "mlk", "washington", "memorial", "juneteenth", "independence",
                     "labor", "columbus", "veterans", "thanksgiving", "christmas"})


def _dates(name: str, year: int) -> tuple[date, ...]:
    rule, observed = RULES[name]
    day = rule(year)
    if day is None:
        return ()
    if observed and day.weekday() == 5:
        return day, day - timedelta(days=1)
    if observed and day.weekday() == 6:
        return day, day + timedelta(days=1)
    return (day,)


@lru_cache(maxsize=256)
def holidays_in(year: int, names: frozenset[str]) -> frozenset[date]:
    """Every date of ``year`` that is one of the named holidays or its observed day (a New
    Year's Day on a Saturday is observed on December 31 of the year before)."""
    return frozenset(day for name in names for y in (year - 1, year, year + 1)
                     for day in _dates(name, y) if day.year == year)


def is_holiday(day: date, names: frozenset[str]) -> bool:
    """True when ``day`` is one of the named holidays or the day it is observed."""
    return bool(names) and day in holidays_in(day.year, names)
