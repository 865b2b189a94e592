"""A recipient's fate as the report and a2p outcomes tell it (engine/schedule/fates.py),
without a server: a daily-cap fate's next opening is the recipient's own window after the
cap day, not the cap day's start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.schedule.fates import Fate, reopening
from engine.schedule.rules import parse_quiet_hours
from engine.schedule.windows import SEND_LEAD, WindowKey

NEW_YORK = WindowKey(("America/New_York",), "")
NEW_DAY = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)  # 00:00 Pacific: 03:00 in New York
MARGIN = timedelta(minutes=10)


def test_a_capped_recipient_s_next_opening_is_its_window_after_the_cap_day() -> None:
    """Held by the cap until 00:00 Pacific, a New Yorker may go at 8:00 Eastern (and the
    send's lead), not at 03:00 when the cap day begins."""
    tcpa = parse_quiet_hours("tcpa")
    fate = reopening(Fate("daily-cap", "daily-cap", NEW_DAY), NEW_YORK, tcpa, MARGIN, None,
                     SEND_LEAD)
    assert fate == Fate("daily-cap", "daily-cap",
                        datetime(2026, 11, 21, 13, 0, tzinfo=UTC) + SEND_LEAD)


def test_a_capped_recipient_has_no_next_opening_past_the_expiry() -> None:
    """--expire-at before the window opens again: no next opening."""
    fate = reopening(Fate("daily-cap", "daily-cap", NEW_DAY), NEW_YORK,
                     parse_quiet_hours("tcpa"), MARGIN, NEW_DAY + timedelta(hours=2), SEND_LEAD)
    assert fate.opens is None


def test_other_fates_and_a_send_without_quiet_hours_keep_their_opening() -> None:
    """A deferred fate keeps its opening; without quiet hours the cap day's start is it."""
    deferred = Fate("deferred", "quiet-hours", NEW_DAY)
    assert reopening(deferred, NEW_YORK, parse_quiet_hours("tcpa"), MARGIN, None,
                     SEND_LEAD) is deferred
    capped = Fate("daily-cap", "daily-cap", NEW_DAY)
    assert reopening(capped, WindowKey((), ""), parse_quiet_hours("off"), MARGIN, None,
                     SEND_LEAD) == capped


def test_the_description_names_the_journal_to_resume() -> None:
    """The outcome's description says the resume command with the run's own journal."""
    said = Fate("deferred", "quiet-hours", NEW_DAY).describe(NEW_YORK, None,
                                                             "campaigns/dec.journal")
    assert said.endswith("(continue the run with a2p send --resume campaigns/dec.journal)")
