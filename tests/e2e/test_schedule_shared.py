"""A scheduled send beside other batches on the same number, and across the cap day's end
(adv29's cases): another tool's queue ahead of a round (engine/run/sharednumber.py), a round
that ends after midnight Pacific, a stall that outlives the polling timeout. Each asserts
the promise on the simulator's audit: nobody processed outside their window, no carrier day
over the cap, nobody left when the run could send."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.config.settings import PollSettings, Settings
from engine.simulator import RunningSimulator, start_simulator
from engine.simulator.settings import ReceiptSettings
from tests.conftest import sim_settings
from tests.e2e.conftest import SENDER, engine_settings
from tests.e2e.test_schedule_pacing import (
    TrackedTime,
    Wire,
    audited,
    pacific,
    send,
    simulators,
    wire,
    write,
)

PT = ZoneInfo("America/Los_Angeles")
__all__ = ["simulators", "wire"]


def hawaii(count: int) -> list[str]:
    return [f"+1808{5_000_000 + i:07d}" for i in range(count)]


async def busy_number(simulators: list[RunningSimulator], wire: Wire, start: datetime,
                      others: list[str], give_up: float = 86400.0
                      ) -> tuple[TrackedTime, RunningSimulator, str, Settings]:
    """The fake clock at ``start``; the simulator at 1 message a second with another tool's
    batch to ``others`` queued on the sender a minute before (its id); settings that poll
    every few seconds and give a batch up after ``give_up`` seconds."""
    time = TrackedTime(start, wire)
    running = await start_simulator(sim_settings(messages_per_second=1.0), clock=time.clock)
    simulators.append(running)
    other, _ = running.simulator.store.create_batch(
        {"from": SENDER, "text": "Sale", "messages": [{"to": [n]} for n in others]},
        start.timestamp() - 60)
    settings = engine_settings(running.url, polling=PollSettings(interval=5.0,
                                                                 max_interval=30.0,
                                                                 timeout=give_up))
    return time, running, other.id, settings


async def test_another_tool_s_queue_on_the_sender_delays_the_round_past_the_close(
        simulators: list[RunningSimulator], wire: Wire, tmp_path: Path) -> None:
    """Another tool queued 3,000 messages on the same number at 19:59 PT (Hawaii recipients,
    inside their window); our scheduled send of 1,000 Pacific recipients starts at 20:00 PT
    (deadline 20:50, close 21:00) at 1 message a second: none of ours may be processed
    after 21:00: the round counts the 3,000 ahead, finds no room, and sends the next morning."""
    time, running, other, settings = await busy_number(
        simulators, wire, datetime(2026, 11, 20, 20, 0, tzinfo=PT), hawaii(3000))
    report = await send(write(tmp_path / "list.csv", pacific(1000)), time, wire, settings,
                        quiet_hours="tcpa", max_batch_messages=100, wait="completed")
    ours = [b for b in running.simulator.store.batches if b.id != other]
    result = audited(running, time, "tcpa")
    assert sum(b.size for b in ours) == 1000
    assert (result.outside_count, result.repeated_count) == (0, 0)
    assert report["schedule"]["state"] == "done"


async def test_a_round_that_ends_after_midnight_does_not_skip_the_next_cap_day(
        simulators: list[RunningSimulator], wire: Wire, tmp_path: Path) -> None:
    """--daily-cap 1000 --wait delivered, 3,000 recipients from 23:30 PT at 1 message a
    second, receipts arriving about 20 minutes after processing: the first round's batches
    are processed by 23:50 but followed (receipts) until after midnight. The next cap day
    (2026-11-21) must get its 1,000, not be skipped as 'daily-cap'."""
    start = datetime(2026, 11, 20, 23, 30, tzinfo=PT)
    time = TrackedTime(start, wire)
    running = await start_simulator(
        sim_settings(messages_per_second=1.0,
                     receipts=ReceiptSettings(seed=1, delay_median=1200.0, delay_sigma=0.1)),
        clock=time.clock)
    simulators.append(running)
    settings = engine_settings(running.url, polling=PollSettings(interval=5.0,
                                                                 max_interval=30.0,
                                                                 timeout=86400.0))
    waits: list[tuple[str, str]] = []
    report = await send(write(tmp_path / "list.csv", pacific(3000)), time, wire, settings,
                        daily_cap=1000, max_batch_messages=250, wait="delivered",
                        delivery_timeout=7200.0,
                        on_event=lambda e: waits.append((e["until"], e["reason"]))
                        if e["event"] == "waiting" else None)
    result = audited(running, time, "off", cap=1000)
    said = ("waits", waits, "per cap day", result.per_cap_day, "state",
            report["schedule"]["state"])
    assert result.over_cap == {}, said
    assert result.per_cap_day.get("2026-11-21", 0) == 1000, said


def eastern(count: int) -> list[str]:
    return [f"+1212{5_000_000 + i:07d}" for i in range(count)]


async def test_a_stall_measured_before_a_polling_timeout_does_not_stop_the_run_for_good(
        simulators: list[RunningSimulator], wire: Wire, tmp_path: Path) -> None:
    """Another tool's 900 messages ahead on the number at 08:00 PT hold our first round's
    batches for 15 minutes (measured as a stall) and a 10-minute polling timeout gives them
    up; the server then processes everything. --daily-cap 2000, 5,000 Pacific recipients,
    --expire-at three days on: the next days must send their 2,000 (the run ends done)."""
    start = datetime(2026, 11, 20, 8, 0, tzinfo=PT)
    time, running, other, settings = await busy_number(simulators, wire, start, eastern(900),
                                                       give_up=600.0)
    waits: list[tuple[str, str]] = []
    report = await send(write(tmp_path / "list.csv", pacific(5000)), time, wire, settings,
                        quiet_hours="tcpa", daily_cap=2000, max_batch_messages=100,
                        wait="completed", expire_at=start + timedelta(days=3),
                        on_event=lambda e: waits.append((e["until"], e["reason"]))
                        if e["event"] == "waiting" else None)
    ours = sum(b.size for b in running.simulator.store.batches if b.id != other)
    assert ours == 5000, (ours, report["schedule"]["state"], waits[:8])
    assert report["schedule"]["state"] == "done"


async def test_another_tool_s_queue_pushes_the_day_s_quota_into_the_next_carrier_day(
        simulators: list[RunningSimulator], wire: Wire, tmp_path: Path) -> None:
    """Another tool queued 3,000 messages on the number at 22:59 PT (the brand cap counts
    them: 7,000 left today); our --daily-cap 10000 --wait accepted send of 13,000 starts at
    23:00 PT at 1 message a second: no carrier day (the day a message is processed, as the
    carriers count) may carry more than the cap."""
    time, running, _, settings = await busy_number(
        simulators, wire, datetime(2026, 11, 20, 23, 0, tzinfo=PT), hawaii(3000))
    report = await send(write(tmp_path / "list.csv", pacific(13000)), time, wire, settings,
                        daily_cap=10000, max_batch_messages=500, wait="accepted")
    result = audited(running, time, "off", cap=10000)
    assert result.over_cap == {}, (result.per_cap_day, report["schedule"]["state"])
