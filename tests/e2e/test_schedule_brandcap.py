"""The daily cap is the sender's (issue 22, adv22 F8): two scheduled runs from one sender,
each with --daily-cap 10, read the server's list of the sender's batches at each round and
count the other run's against the day, so no carrier day carries more than 10."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.schedule.rules import parse_quiet_hours
from engine.simulator.audit import audit
from tests.e2e.conftest import ledger_numbers
from tests.e2e.test_schedule_rounds import FakeTime, Start, Watch, send
from tests.e2e.test_schedule_rounds import start as start  # the fake-clock simulator

ET = ZoneInfo("America/New_York")


async def test_two_runs_of_one_sender_share_the_day_s_cap(start: Start, tmp_path: Path
                                                           ) -> None:
    """Runs a and b (15 New Yorkers each, --daily-cap 10) started at 09:00 ET, then cron
    ticks for both at 09:00 ET on the next three days: the simulator's audit finds at most
    10 messages on each Pacific day, b's first round warns that a's 10 count against its cap,
    and all 30 are texted exactly once."""
    time = FakeTime(datetime(2026, 11, 20, 9, 0, tzinfo=ET))
    running, settings = await start(time)
    lists = {name: [f"+1212{base + i:07d}" for i in range(15)]
             for name, base in (("a", 2_000_000), ("b", 3_000_000))}
    watch = Watch(running, time)
    journals = {}
    for name, numbers in lists.items():
        (tmp_path / f"{name}.csv").write_text("to\n" + "\n".join(numbers) + "\n")
        journals[name] = tmp_path / f"{name}.journal"
        await send(tmp_path / f"{name}.csv", settings, time, watch, journal=journals[name],
                   quiet_hours="tcpa", daily_cap=10, exit_when_waiting=True)
    warned = [e["message"] for e in watch.kinds("warning") if e["code"] == "daily-cap"
              and "the server lists" in e["message"]]
    assert len(warned) == 1
    assert "10 message(s) in 1 batch(es)" in warned[0]
    for day in (21, 22, 23):
        time.t = datetime(2026, 11, day, 9, 0, tzinfo=ET).timestamp()
        for journal in journals.values():
            await send(None, settings, time, watch, resume=journal, exit_when_waiting=True)
    judged = audit(running.simulator.store, time.t + 3600, parse_quiet_hours("tcpa"),
                   daily_cap=10)
    assert judged.per_cap_day
    assert max(judged.per_cap_day.values()) <= 10
    assert judged.over_cap == {}
    assert judged.repeated_count == 0
    assert Counter(ledger_numbers(running)) == Counter(
        dict.fromkeys(lists["a"] + lists["b"], 1))
