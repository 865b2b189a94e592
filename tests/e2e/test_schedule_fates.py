"""Every recipient's fate in a scheduled send (issue 22 item 7), on the fake clock: a list
split between sent, daily-cap (window open, the day's cap full), deferred (window opens
later; or none before --expire-at) and, after --expire-at, expired is told the same by the
report, the events and ``a2p outcomes``, recipient by recipient."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.results.rows import Row
from tests.e2e.conftest import ledger_numbers
from tests.e2e.test_schedule_rounds import FakeTime, Start, opening, send
from tests.e2e.test_schedule_rounds import start as start  # the fake-clock simulator

# Friday 2026-11-20 09:00 Eastern (14:00 UTC): New York open, Los Angeles opens at 16:00
# UTC, Honolulu at 18:00 UTC, after --expire-at (17:00 UTC): no opening for it before then
START = datetime(2026, 11, 20, 9, 0, tzinfo=ZoneInfo("America/New_York"))
AREAS = {"212": ("America/New_York", 150), "415": ("America/Los_Angeles", 40),
         "808": ("Pacific/Honolulu", 30)}
CAP = 100
EXPIRE_AT = "2026-11-20T17:00:00Z"
SUPPRESSED = "+12122000000"  # a New Yorker on the suppression list: rejected, with its zone


def fates_list(path: Path) -> dict[str, str]:
    """The list (CSV, interleaved) and each number's zone."""
    zones = {f"+1{area}{2_000_000 + i * 7:07d}": zone
             for area, (zone, count) in AREAS.items() for i in range(count)}
    path.write_text("to\n" + "\n".join(sorted(zones, key=lambda n: (n[-3:], n))) + "\n")
    return zones


async def rows_at(journal: Path, settings: engine.Settings, time: FakeTime) -> list[Row]:
    return [row async for row in engine.outcomes(journal, config=settings,
                                                 credentials=DEMO_CREDENTIALS,
                                                 wall=time.wall)]


async def test_report_events_and_outcomes_tell_each_recipient_the_same_fate(
        start: Start, tmp_path: Path) -> None:
    """After the first round (the cap of 100 sent to New York, one suppressed: its rejected
    event has its zone): the 49 New Yorkers left are
    daily-cap with no opening before --expire-at (their window after the cap day opens at
    8:00 Eastern), Los Angeles deferred to its 8:00, Honolulu deferred with no opening
    before --expire-at; past --expire-at all 119 are expired. The report's totals,
    byRule and byZone, the waiting and expired events' byZone and the outcomes' rows (zone,
    zoneSource, fate, nextOpening, retryable False) agree recipient by recipient."""
    time, running, settings, zones, watch = await opening(start, tmp_path, fates_list,
                                                           START)
    journal = tmp_path / "run.journal"
    report = await send(tmp_path / "list.csv", settings, time, watch, journal=journal,
                        quiet_hours="tcpa", daily_cap=CAP, expire_at=EXPIRE_AT,
                        exit_when_waiting=True, suppress=[[SUPPRESSED]])
    sent = set(ledger_numbers(running))
    assert len(sent) == CAP
    assert {zones[n] for n in sent} == {"America/New_York"}
    schedule = report["schedule"]
    assert report["totals"]["dailyCap"] == 49
    assert report["totals"]["deferred"] == 70
    assert report["totals"]["expired"] == 0
    assert schedule["byRule"] == {"quiet-hours": 70, "daily-cap": 49, "carrier-cap": 0,
                                  "at": 0, "expire-at": 0, "due": 0, "no-window": 0}
    assert schedule["byZone"] == {"America/New_York": 49, "America/Los_Angeles": 40,
                                  "Pacific/Honolulu": 30}
    assert sum(schedule["byZoneSource"].values()) == 119
    rejected = watch.kinds("rejected")
    assert [(e["to"], e["zone"], e["errorCode"]) for e in rejected] == [
        (SUPPRESSED, "America/New_York", "LCL-OPTED-OUT")]
    assert rejected[0]["zoneSource"] in ("libphonenumber", "area-code")
    waiting = watch.kinds("waiting")[-1]
    assert waiting["byZone"] == schedule["byZone"]
    assert waiting["remaining"] == 119
    assert "Fri 2026-11-20 " in waiting["message"]  # the local opening has its date

    rows = {str(row.to): row for row in await rows_at(journal, settings, time)}
    assert set(rows) == set(zones)
    # the New Yorkers' cap day ends at 00:00 Pacific (03:00 Eastern), their window opens at
    # 8:00 Eastern: after --expire-at, so no next opening (never 03:00, when they are shut)
    expected = {"America/New_York": ("daily-cap", None),
                "America/Los_Angeles": ("deferred", "2026-11-20T16:01:00Z"),  # 08:00 + SEND_LEAD
                "Pacific/Honolulu": ("deferred", None)}
    for number, row in rows.items():
        assert row.zone == zones[number]
        assert row.zoneSource in ("libphonenumber", "area-code")
        if number == SUPPRESSED:
            assert (row.outcome, row.fate) == ("rejected-local", None)
            continue
        if number in sent:
            assert row.outcome != "not-sent"
            assert row.fate is None
            continue
        assert (row.outcome, row.retryable) == ("not-sent", False)
        assert (row.fate, row.nextOpening) == expected[zones[number]]
        assert row.description.startswith(f"{row.fate}: ")
    unsent = [row for row in rows.values() if row.fate is not None]
    assert Counter(row.zone for row in unsent) == Counter(schedule["byZone"])
    assert Counter(row.fate for row in unsent) == {"daily-cap": 49, "deferred": 70}
    assert Counter(row.zoneSource for row in unsent) == Counter(
        {k: n for k, n in schedule["byZoneSource"].items() if n})
    pacific = rows[next(n for n, z in zones.items() if z == "America/Los_Angeles")]
    assert "(Fri 2026-11-20 08:01 PST America/Los_Angeles)" in pacific.description

    time.t = datetime.fromisoformat(EXPIRE_AT).timestamp() + 60
    report = await send(None, settings, time, watch, resume=journal)
    assert set(ledger_numbers(running)) == sent  # nobody more, nobody twice
    assert len(ledger_numbers(running)) == CAP
    assert report["totals"]["expired"] == 119
    assert report["schedule"]["byRule"]["expire-at"] == 119
    assert report["schedule"]["state"] == "expired"
    assert watch.kinds("expired")[-1]["byZone"] == schedule["byZone"]
    rows = {str(row.to): row for row in await rows_at(journal, settings, time)}
    expired = [row for row in rows.values() if row.fate is not None]
    assert {row.to for row in expired} == set(zones) - sent - {SUPPRESSED}
    assert all(row.fate == "expired" and row.nextOpening is None and not row.retryable
               and row.description.startswith("expired: --expire-at 2026-11-20T17:00:00Z")
               for row in expired)

