"""A scheduled send on a machine whose clock is off (issue 22, adv22 F5): the schedule follows
the server's clock (its Date header, measured at each round's login) with a warning naming
both clocks, so no message is processed outside its window by the server's own audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.schedule.rules import parse_quiet_hours
from engine.simulator import RunningSimulator, start_simulator
from engine.simulator.audit import audit
from engine.simulator.settings import FaultSettings
from engine.types import Report
from tests.conftest import sim_settings
from tests.e2e.conftest import engine_settings
from tests.e2e.test_schedule_rounds import FakeTime, Watch, send

PT = ZoneInfo("America/Los_Angeles")


@asynccontextmanager
async def skewed_run(tmp_path: Path, time: FakeTime, skew: float,
                     **options: Any) -> AsyncIterator[tuple[RunningSimulator, Watch, Report]]:
    """20 Pacific recipients sent (with ``options``) against a simulator whose clock is the
    machine's (``time``) less ``skew`` seconds; the simulator stopped at the end."""
    running = await start_simulator(sim_settings(
        messages_per_second=1e6, faults=FaultSettings(clock_skew=-skew)), clock=lambda: time.t)
    try:
        numbers = [f"+1415{2_000_000 + i:07d}" for i in range(20)]
        (tmp_path / "list.csv").write_text("to\n" + "\n".join(numbers) + "\n")
        watch = Watch(running, time)
        report = await send(tmp_path / "list.csv", engine_settings(running.url), time, watch,
                            journal=tmp_path / "run.journal", **options)
        yield running, watch, report
    finally:
        await running.stop()


@pytest.mark.parametrize(("skew", "machine_start"), [
    (120.0, datetime(2026, 11, 20, 8, 0, 30, tzinfo=PT)),    # 2 minutes fast: 07:58:30 true
    (-900.0, datetime(2026, 11, 20, 20, 49, 0, tzinfo=PT)),  # 15 minutes slow: 21:04 true
])
async def test_a_machine_clock_off_texts_nobody_outside_their_window(
        tmp_path: Path, skew: float, machine_start: datetime) -> None:
    """Machine 2 minutes fast at its 08:00:30, or 15 minutes slow at its 20:49, 20 Pacific
    recipients, tcpa, until the next evening: the simulator's audit (by the server's clock)
    finds no message outside its window and none twice; the run warned of the skew, naming
    both clocks; all 20 are sent in the end."""
    time = FakeTime(machine_start)
    async with skewed_run(tmp_path, time, skew, quiet_hours="tcpa") as (running, watch, report):
        assert report["schedule"]["state"] == "done"
        assert report["totals"]["sent"] == 20
        judged = audit(running.simulator.store, running.simulator.now() + 3600,
                       parse_quiet_hours("tcpa"))
        assert judged.processed == 20
        assert judged.outside_count == 0
        assert judged.repeated_count == 0
        warned = [e["message"] for e in watch.kinds("warning") if e["code"] == "clock-skew"]
        assert warned
        assert f"{abs(skew):,.0f} s" in warned[0]
        assert "this machine's clock" in warned[0]
        assert "the server's" in warned[0]


async def test_a_fast_machine_clock_keeps_the_cap_day_of_the_server(tmp_path: Path) -> None:
    """--daily-cap 10, no quiet hours, 20 recipients, a machine 2 minutes fast started at its
    23:59 Pacific (the server's 23:57): the cap day's last 10 minutes (its margin) are past on
    the server's clock, and the next cap day starts at the server's midnight, so the audit
    finds 10 on each of the next two Pacific days (by the machine's clock, 10 would go at the
    server's 23:58, on the first)."""
    time = FakeTime(datetime(2026, 11, 20, 23, 59, tzinfo=PT))
    async with skewed_run(tmp_path, time, 120.0, daily_cap=10) as (running, _, report):
        assert report["totals"]["sent"] == 20
        judged = audit(running.simulator.store, running.simulator.now() + 3600,
                       parse_quiet_hours("off"), daily_cap=10)
        assert judged.per_cap_day == {"2026-11-21": 10, "2026-11-22": 10}
        assert judged.repeated_count == 0
