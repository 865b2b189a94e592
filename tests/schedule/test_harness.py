"""The clock harness (tests/schedule/harness.py): engine.send in a child process shares the
simulator's simulated clock, is SIGKILLed at a chosen moment, resumes, and the audit then
shows every recipient processed exactly once; and issue 22's national campaign, which needs
the rounds (engine/run/rounds.py) before it can pass."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import orjson
import pytest

from engine.simulator import start_simulator
from engine.simulator.clock import SimClock
from tests.schedule.harness import PLACES, Campaign, national, national_campaign, simulator_settings

START = "2026-03-07T05:00:00-05:00"


def recipients(each: int) -> list[str]:
    """``each`` numbers of every kind of PLACES (zones, split codes, toll-free, Canada)."""
    return [f"{prefix}{'' if len(prefix) == 8 else '555'}{n:04d}"
            for prefix in PLACES.values() for n in range(each)]


@pytest.mark.slow
async def test_a_child_killed_at_a_simulated_moment_and_resumed_sends_everyone_once(
        tmp_path: Path) -> None:
    """The child's report is stamped in simulated time (it shares the clock); killed once
    after the first batch is accepted and once at a simulated moment while batches are
    still processing, then resumed, it leaves every recipient processed exactly once."""
    clock = SimClock.parse(f"{START}@x10")
    running = await start_simulator(simulator_settings(clock, messages_per_second=1.0))
    try:
        # a chunk in flight at a kill is looked for 30 simulated seconds (3 real) before it
        # is proved never created and sent again
        campaign = Campaign(tmp_path, running, clock, options={"max_batch_messages": 6},
                            settings={"retry": {"reconcile_window": 30.0,
                                                "store_window": 30.0}})
        numbers = recipients(3)
        campaign.write_list(numbers)
        store = running.simulator.store
        assert await campaign.run(kill_when=lambda: store.accepted_count() > 0) is None
        assert await campaign.run(kill_at=clock.wall() + 5.0) is None
        assert await campaign.run() == 0
        report = orjson.loads(campaign.report.read_bytes())
        result = campaign.audit("off")
    finally:
        await running.stop()
    assert report["status"] == "completed"
    assert report["totals"]["sent"] == len(numbers)
    started = datetime.fromisoformat(report["startedAt"]).timestamp()
    assert clock.start <= started <= campaign.runs[-1].ended
    assert (result.processed, result.repeated_count) == (len(numbers), 0)
    assert campaign.never_processed(numbers) == []
    assert [r.code for r in campaign.runs] == [None, None, 0]


@pytest.mark.slow
async def test_the_audit_catches_a_send_that_ignores_quiet_hours(tmp_path: Path) -> None:
    """A campaign sent at once at 05:00 Eastern (quiet hours off) through the harness: the
    audit under strict flags every recipient, each read in their own zone (02:00 in Los
    Angeles, 00:00 in Honolulu), so the national campaign's clean audit means something."""
    clock = SimClock.parse(f"{START}@x10")
    running = await start_simulator(simulator_settings(clock, messages_per_second=1000.0))
    try:
        campaign = Campaign(tmp_path, running, clock)
        numbers = recipients(2)
        campaign.write_list(numbers)
        assert await campaign.run() == 0
        result = campaign.audit("strict", daily_cap=len(numbers) - 1)
    finally:
        await running.stop()
    assert result.outside_count == result.processed == len(numbers)
    hours = {o.to[:5]: o.stamp.local[0].hour for o in result.outside}
    assert (hours["+1310"], hours["+1808"], hours["+1212"]) == (2, 0, 5)
    assert list(result.over_cap.values()) == [len(numbers)]


def test_the_national_list_is_distinct_valid_and_spans_every_kind() -> None:
    """Distinct textable numbers (as many as asked), with every kind of PLACES among them."""
    numbers = national(20_000)
    assert len(set(numbers)) == 20_000
    assert all(len(n) == 12 and n.startswith("+1") and n[5] in "23456789" for n in numbers)
    assert all(any(n.startswith(p) for n in numbers) for p in PLACES.values())


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_a_small_national_campaign_keeps_every_window_and_the_cap(tmp_path: Path) -> None:
    """The Done-when's campaign at a hundredth of the size (3,000 rows, a cap of 1,000 a day,
    an hour a real second): killed on day one and day two, resumed, and every recipient is
    processed exactly once, inside their window, 1,000 a cap day over three days."""
    figures = await national_campaign(tmp_path, rows=3000, cap=1000, speed=3600.0)
    assert figures["neverProcessed"] == 0
    assert figures["processed"] == 3000
    assert (figures["outsideWindow"], figures["repeatedRecipients"]) == (0, 0)
    assert figures["perCapDay"] == {"2026-03-07": 1000, "2026-03-08": 1000,
                                    "2026-03-09": 1000}
    assert [r[0] for r in figures["runs"]].count(None) == 2


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_a_small_campaign_at_a_10dlc_pace_is_never_processed_after_a_close(
        tmp_path: Path) -> None:
    """3,000 rows at a hundredth of a 10DLC number's speed (0.02 messages a second, so a
    day's cap of 1,000 takes longer than a window): the rounds POST only what is processed
    before each close, so over the days it takes, with the two kills, nobody is texted
    outside their window or twice. (The same send unpaced, ``send_rate`` 1e6, had 511
    recipients processed after a close.)"""
    figures = await national_campaign(tmp_path, rows=3000, cap=1000, speed=3600.0, rate=0.02)
    assert figures["neverProcessed"] == 0
    assert (figures["outsideWindow"], figures["repeatedRecipients"]) == (0, 0)
    assert figures["overCap"] == {}


@pytest.mark.slow
@pytest.mark.timeout(3600)
async def test_a_national_campaign_keeps_every_window_and_the_cap_over_three_days(
        tmp_path: Path) -> None:
    """Issue 22's Done-when: 300,000 rows, --quiet-hours strict, --daily-cap 100000, from
    05:00 Eastern on a Saturday over three simulated days (DST on the Sunday), two SIGKILLs
    and resumes: every recipient processed exactly once, inside their window, never more
    than the cap a day."""
    figures = await national_campaign(tmp_path, rows=300_000)
    assert figures["neverProcessed"] == 0
    assert figures["processed"] == 300_000
    assert (figures["outsideWindow"], figures["repeatedRecipients"]) == (0, 0)
    assert figures["overCap"] == {}
    assert len(figures["perCapDay"]) >= 3
    assert [r[0] for r in figures["runs"]].count(None) == 2
