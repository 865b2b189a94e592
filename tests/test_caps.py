"""Daily caps: the Pacific day, filling the cap exactly, and the carrier-cap halt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.errors import ConfigError
from engine.schedule.caps import (
    cap_day,
    cap_day_label,
    carrier_cap_halt,
    check_daily_cap,
    day_start,
    default_daily_cap,
    next_day,
)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
       second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_the_cap_day_turns_at_midnight_pacific() -> None:
    """08:00 UTC in December is midnight in Los Angeles: what was sent at 07:59 counts for
    the day before, and the new day has its whole cap."""
    ledger = [(at(2026, 12, 5, 7, 59), 90), (at(2026, 12, 5, 8, 0), 30)]
    before = cap_day(100, ledger, at(2026, 12, 5, 7, 59, 30))
    after = cap_day(100, ledger, at(2026, 12, 5, 8, 0, 30))
    assert (before.sent, before.allowed, before.ends) == (90, 10, at(2026, 12, 5, 8))
    assert (after.sent, after.allowed, after.starts) == (30, 70, at(2026, 12, 5, 8))
    assert cap_day_label(at(2026, 12, 5, 7, 59)) == "2026-12-04"


def test_the_last_batch_of_a_day_is_cut_at_the_cap() -> None:
    """With 90 of 100 sent, a batch of 25 is cut to 10; a full day lets nothing go."""
    day = cap_day(100, [(at(2026, 12, 5, 12), 90)], at(2026, 12, 5, 13))
    assert day.cut(25) == 10
    full = cap_day(100, [(at(2026, 12, 5, 12), 100)], at(2026, 12, 5, 13))
    assert (full.cut(25), full.full) == (0, True)


def test_a_run_fills_each_day_exactly_and_goes_on_the_next() -> None:
    """Batches of 40 against a cap of 100, from 07:00 UTC: the first Pacific day carries
    exactly 100, then sending waits for 08:00 UTC, and the next day carries 100 again."""
    ledger: list[tuple[datetime, int]] = []
    now, left = at(2026, 12, 5, 7), 260
    for _ in range(50):  # bounded: far more steps than the 260 messages need
        if not left:
            break
        day = cap_day(100, ledger, now)
        size = day.cut(min(40, left))
        if size:
            ledger.append((now, size))
            left -= size
            now += timedelta(minutes=5)
        else:
            now = day.ends
    per_day: dict[str, int] = {}
    for when, n in ledger:
        per_day[cap_day_label(when)] = per_day.get(cap_day_label(when), 0) + n
    assert per_day == {"2026-12-04": 100, "2026-12-05": 100, "2026-12-06": 60}
    assert [n for _, n in ledger[:4]] == [40, 40, 20, 40]


def test_no_cap_lets_everything_go() -> None:
    """Without a cap every batch goes whole."""
    assert cap_day(None, [(at(2026, 12, 5, 12), 10**9)], at(2026, 12, 5, 13)).cut(5000) == 5000


def test_the_pacific_day_is_25_hours_when_the_clocks_fall_back() -> None:
    """November 1, 2026 in Los Angeles starts at 07:00 UTC (PDT) and ends at 08:00 UTC the
    next day (PST)."""
    assert day_start(at(2026, 11, 1, 12)) == at(2026, 11, 1, 7)
    assert next_day(at(2026, 11, 1, 12)) == at(2026, 11, 2, 8)


def test_carrier_cap_failures_above_the_threshold_halt_the_day() -> None:
    """5 carrier-cap failures in 1,000 messages (0.5 %) keep sending; 6 halt it until
    midnight Pacific, with a reason that names the codes and the figures."""
    assert carrier_cap_halt(1000, 5, at(2026, 12, 5, 20)) is None
    halt = carrier_cap_halt(1000, 6, at(2026, 12, 5, 20))
    assert halt is not None
    assert halt.until == at(2026, 12, 6, 8)
    assert "6 of the 1,000" in halt.reason
    assert "SMS-CAR-450/451/452" in halt.reason
    assert "2026-12-06 00:00 PST" in halt.reason


def test_the_threshold_can_be_set() -> None:
    """At a 2 % threshold, 10 failures in 1,000 keep sending; 21 halt."""
    assert carrier_cap_halt(1000, 10, at(2026, 12, 5, 20), threshold=0.02) is None
    assert carrier_cap_halt(1000, 21, at(2026, 12, 5, 20), threshold=0.02) is not None


def test_the_tier_gives_the_default_cap() -> None:
    """LowVolume means 6,000 a day; StandardVolume or an unknown tier means no default cap."""
    assert [default_daily_cap(t) for t in ("LowVolume", "StandardVolume", None)] \
        == [6000, None, None]


def test_a_cap_below_one_is_refused_with_the_fix() -> None:
    """--daily-cap 0 names the flag and says what to give."""
    with pytest.raises(ConfigError, match=r"--daily-cap.*e\.g\. --daily-cap 6000"):
        check_daily_cap(0)
