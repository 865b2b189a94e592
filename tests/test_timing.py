"""--at and --expire-at: parsing with a zone, and what they decide."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.errors import ConfigError
from engine.schedule.timing import Timing, check_timing, parse_instant


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
       second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(("text", "utc"), [
    ("2026-12-05T08:00-05:00", at(2026, 12, 5, 13)),
    ("2026-12-05T13:00Z", at(2026, 12, 5, 13)),
    ("2026-12-05 13:00:00+00:00", at(2026, 12, 5, 13)),
    ("2026-12-05T08:00[America/New_York]", at(2026, 12, 5, 13)),
    ("2026-07-05T08:00[America/New_York]", at(2026, 7, 5, 12)),
    ("2026-07-05T08:00[America/Phoenix]", at(2026, 7, 5, 15)),
    ("2026-12-05T08:00-05:00[America/New_York]", at(2026, 12, 5, 13))])
def test_a_time_with_an_offset_or_a_zone_is_read_as_utc(text: str, utc: datetime) -> None:
    """Offsets, Z and a bracketed IANA zone (which follows DST) all give the right instant."""
    assert parse_instant(text, "--at") == utc


@pytest.mark.parametrize(("text", "problem", "fix"), [
    ("2026-12-05T08:00", "names no time zone", "2026-12-05T08:00[America/New_York]"),
    ("2026-12-05", "has a date but no time of day", "Give the time and its zone"),
    ("tomorrow 8am", "is not an ISO 8601 date and time", "Write it like"),
    ("2026-12-05T08:00[Mars/Olympus]", "'Mars/Olympus', which is not an IANA", "such as"),
    ("2026-03-08T02:30[America/New_York]", "does not exist", "outside the skipped hour"),
    ("2026-11-01T01:30[America/New_York]", "happens twice", "Give an offset"),
    ("2026-12-05T08:00-04:00[America/New_York]", "offset that America/New_York does not",
     "not both")])
def test_a_time_that_cannot_be_placed_is_refused_with_the_fix(text: str, problem: str,
                                                              fix: str) -> None:
    """A time without a zone, a date alone, a skipped or repeated local time: each error
    names the value's problem and what to write instead."""
    with pytest.raises(ConfigError) as caught:
        parse_instant(text, "--expire-at")
    message = str(caught.value)
    assert problem in message
    assert fix in message
    assert message.startswith(f"--expire-at: time: {text!r}")


def test_an_expiry_before_the_start_is_refused() -> None:
    """--expire-at at or before --at could send nothing: refused, naming both."""
    with pytest.raises(ConfigError, match=r"--expire-at.*is not after --at"):
        check_timing(at(2026, 12, 5, 13), at(2026, 12, 5, 12))
    check_timing(at(2026, 12, 5, 13), None)


def test_the_run_waits_for_at_sends_between_and_expires_after() -> None:
    """Before --at: wait; from --at: send; from --expire-at: what is left is expired."""
    timing = Timing(at(2026, 12, 5, 13), at(2026, 12, 6, 13))
    decisions = [timing.decide(at(2026, 12, 5, 12)), timing.decide(at(2026, 12, 5, 13)),
                 timing.decide(at(2026, 12, 6, 12, 59)), timing.decide(at(2026, 12, 6, 13))]
    assert decisions == ["wait", "send", "send", "expired"]
    assert timing.start(at(2026, 12, 5, 10)) == at(2026, 12, 5, 13)
    assert timing.start(at(2026, 12, 5, 15)) == at(2026, 12, 5, 15)
    assert Timing().decide(at(2026, 12, 5, 12)) == "send"
