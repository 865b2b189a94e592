"""A run another process ended expired while this one slept (cold22c L1), without a server:
each round reads the journal's expiry instant again, and the round's deadline is never after
it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.run.expiry import expiry_floor, record_expiry
from engine.run.pacing import round_deadline
from engine.schedule.caps import cap_day
from tests.test_capledger import journal

NOW = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)


def test_an_expiry_journaled_by_another_process_is_read_at_the_next_round(
        tmp_path: Path) -> None:
    """No expiry journaled: no floor; once another process journals the run expired, the
    next read gives that instant."""
    path = journal(tmp_path, [])
    assert expiry_floor(path) is None
    at = NOW + timedelta(minutes=5)  # stamped by a clock five minutes ahead of this one
    record_expiry(path, at, at, 12)
    assert expiry_floor(path) == at


def test_the_round_s_deadline_is_never_after_the_journaled_expiry() -> None:
    """A window open for an hour more: the round still stops POSTing at the instant the
    journal says the run expired; with a daily cap, the earlier of that and the cap day's."""
    day = cap_day(None, [], NOW)
    window = (NOW + timedelta(hours=1)).timestamp()
    floor = NOW + timedelta(minutes=5)
    assert round_deadline(window, day, None, 600) == window
    assert round_deadline(window, day, None, 600, floor) == floor.timestamp()
    assert round_deadline(window, day, 1000, 600, floor) == floor.timestamp()
