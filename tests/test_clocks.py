"""Whose clock a scheduled send keeps (adv22 F5), without a server: the server's once it
differs from this machine's beyond a few seconds, with a warning naming both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.run.servertime import ServerClock, login_check
from engine.schedule.clocks import SKEW_TOLERANCE, applied_offset, skew_warning
from engine.schedule.rules import parse_quiet_hours
from engine.schedule.waves import status_at
from engine.schedule.windows import SEND_LEAD, WindowKey

MACHINE = datetime(2026, 11, 20, 16, 0, 30, tzinfo=UTC).timestamp()  # 08:00:30 Pacific


class Client:
    def __init__(self, offset: float | None) -> None:
        self.date_offset = offset


def test_a_small_offset_is_the_header_s_resolution_a_large_one_is_followed() -> None:
    """Within the tolerance the machine's clock is kept; beyond it, the server's."""
    assert applied_offset(None) == 0.0
    assert applied_offset(SKEW_TOLERANCE) == 0.0
    assert applied_offset(-120.0) == -120.0
    assert applied_offset(900.0) == 900.0


def test_the_warning_names_both_clocks() -> None:
    """A machine 2 minutes fast: both instants, and which is ahead."""
    message = skew_warning(MACHINE, -120.0)
    assert "2026-11-20T16:00:30Z" in message
    assert "2026-11-20T15:58:30Z" in message
    assert "120 s ahead of the server's" in message


def test_a_login_that_moves_the_clock_ends_the_round_s_sending_once() -> None:
    """The first login on a fast machine: the round's deadline becomes now and the warning
    is given; the schedule's now is then the server's; a second login agreeing says
    nothing."""
    clock = ServerClock(lambda: MACHINE)
    check = login_check(clock)
    moved = check(Client(-120.0))
    assert moved is not None
    assert moved[0] == MACHINE
    assert "ahead of the server's" in moved[1]
    assert clock.now() == datetime.fromtimestamp(MACHINE - 120, UTC)
    assert clock.machine(MACHINE - 120) == MACHINE
    assert check(Client(-119.0)) is None
    assert clock.notes()[0][0] == "clock-skew"


def test_a_window_opens_a_minute_after_the_rules_opening() -> None:
    """08:00:30 Pacific by the server: the window has not opened yet for a send (08:01)."""
    key = WindowKey(("America/Los_Angeles",), "")
    tcpa = parse_quiet_hours("tcpa")
    at = datetime.fromtimestamp(MACHINE, UTC)
    status = status_at([key], tcpa, at, lead=SEND_LEAD)
    assert not status.is_open(key)
    assert status.next_opening == at + timedelta(seconds=30)
    assert status_at([key], tcpa, at + timedelta(seconds=30), lead=SEND_LEAD).is_open(key)


def test_a_login_without_a_date_header_keeps_the_measured_offset() -> None:
    """A login answer with no Date header (a proxy stripped it) leaves the server's clock as
    measured: no reset to this machine's, no warning, the round's limits stand."""
    clock = ServerClock(lambda: MACHINE)
    check = login_check(clock)
    assert check(Client(300.0)) is not None  # measured: +5 min
    assert check(Client(None)) is None
    assert clock.offset == 300.0
    assert not clock.changed
    assert clock.now() == datetime.fromtimestamp(MACHINE + 300.0, UTC)
