"""Ending a scheduled send (issue 22, adv22 F3 and F7), on the fake clock: a resume that
brings --expire-at forward ends the run for every later resume, so re-scheduling the rest as
the refusal advises texts nobody twice; recipients whose window never opens are told
``no-window`` and the run ends when only they are left."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.errors import UsageError
from tests.e2e.conftest import SENDER, ledger_numbers
from tests.e2e.test_schedule_rounds import FakeTime, Start, Watch, send
from tests.e2e.test_schedule_rounds import start as start  # the fake-clock simulator
from tests.e2e.test_schedule_ticks import sleeper

ET = ZoneInfo("America/New_York")


async def test_ending_a_run_then_rescheduling_its_rest_texts_nobody_twice(
        start: Start, tmp_path: Path) -> None:
    """The adversary's r6 done the right way: a tcpa run started before 08:00 is refused
    another --quiet-hours with advice to end it first; `--expire-at now` ends it (expired,
    journaled), the rest goes as a new strict run from `a2p outcomes --only not-sent`, and
    cron ticks resuming both journals at 08:00 and 09:00 text each of the 10 exactly once."""
    time = FakeTime(datetime(2026, 11, 20, 5, 0, tzinfo=ET))
    running, settings = await start(time)
    numbers = [f"+1212{2_000_000 + i:07d}" for i in range(10)]
    (tmp_path / "list.csv").write_text("to\n" + "\n".join(numbers) + "\n")
    first, second = tmp_path / "first.journal", tmp_path / "second.journal"
    watch = Watch(running, time)
    report = await send(tmp_path / "list.csv", settings, time, watch, journal=first,
                        quiet_hours="tcpa", exit_when_waiting=True)
    assert report["schedule"]["state"] == "waiting"
    time.t += 600
    with pytest.raises(UsageError) as refused:
        await send(None, settings, time, watch, resume=first, quiet_hours="strict",
                   exit_when_waiting=True)
    assert f"a2p send --resume {first} --expire-at now" in str(refused.value)
    assert "cron line or CronJob" in str(refused.value)
    ended = await send(None, settings, time, watch, resume=first, expire_at="now",
                       exit_when_waiting=True)
    assert ended["schedule"]["state"] == "expired"
    assert ended["totals"]["expired"] == 10
    assert b'"type":"schedule"' in first.read_bytes()
    rows = [row async for row in engine.outcomes(first, config=settings,
                                                 credentials=DEMO_CREDENTIALS, wall=time.wall)]
    rest = [str(row.to) for row in rows if row.outcome == "not-sent"]
    assert sorted(rest) == numbers
    (tmp_path / "rest.csv").write_text("to\n" + "\n".join(rest) + "\n")
    again = await send(tmp_path / "rest.csv", settings, time, watch, journal=second,
                       quiet_hours="strict", exit_when_waiting=True)
    assert again["schedule"]["state"] == "waiting"
    states = []
    for hour in (8, 9):
        time.t = datetime(2026, 11, 20, hour, 0, 30, tzinfo=ET).timestamp()
        for journal in (first, second):
            tick = await send(None, settings, time, watch, resume=journal,
                              exit_when_waiting=True)
            states.append((journal.name, hour, tick["schedule"]["state"]))
    assert Counter(ledger_numbers(running)) == Counter(dict.fromkeys(numbers, 1))
    assert ("first.journal", 8, "expired") in states
    assert ("second.journal", 9, "done") in states


async def test_a_later_expire_at_on_a_resume_is_refused(start: Start, tmp_path: Path
                                                        ) -> None:
    """--expire-at may only come forward: a later one is refused, naming the journal's."""
    time = FakeTime(datetime(2026, 11, 20, 5, 0, tzinfo=ET))
    running, settings = await start(time)
    (tmp_path / "list.csv").write_text("to\n+12122000000\n")
    journal = tmp_path / "run.journal"
    watch = Watch(running, time)
    await send(tmp_path / "list.csv", settings, time, watch, journal=journal,
               quiet_hours="tcpa", expire_at="2026-11-21T00:00:00Z", exit_when_waiting=True)
    with pytest.raises(UsageError, match="never later"):
        await send(None, settings, time, watch, resume=journal,
                   expire_at="2026-11-22T00:00:00Z", exit_when_waiting=True)
    assert ledger_numbers(running) == []


async def test_recipients_with_no_window_are_told_so_and_end_the_run(
        start: Start, tmp_path: Path) -> None:
    """Own window 20:00-21:00 under strict: Miami (FL, closes 20:00) never opens, New York
    does. The first round warns of the 5 Miami recipients; after New York's window the run
    is done (status completed, not waiting for ever), its report counts 5 noWindow, and
    `a2p outcomes` tells each Miami number no-window, not retryable."""
    time = FakeTime(datetime(2026, 11, 20, 19, 0, tzinfo=ET))
    running, settings = await start(time)
    ny = [f"+1212{2_000_000 + i:07d}" for i in range(5)]
    miami = [f"+1305{2_000_000 + i:07d}" for i in range(5)]
    (tmp_path / "list.csv").write_text("to\n" + "\n".join(ny + miami) + "\n")
    journal = tmp_path / "run.journal"
    watch = Watch(running, time)
    first = await send(tmp_path / "list.csv", settings, time, watch, journal=journal,
                       quiet_hours="20:00-21:00", exit_when_waiting=True)
    warned = [e["message"] for e in watch.kinds("warning") if e["code"] == "no-window"]
    assert len(warned) == 1
    assert "5 recipient(s)" in warned[0]
    assert "FL" in warned[0]
    assert first["schedule"]["state"] == "waiting"
    assert first["status"] == "waiting"
    assert first["totals"]["noWindow"] == 5
    time.t = datetime(2026, 11, 20, 20, 0, 1, tzinfo=ET).timestamp()
    done = await send(None, settings, time, watch, resume=journal, exit_when_waiting=True)
    assert done["schedule"]["state"] == "done"
    assert done["status"] == "completed"  # ended: only those never sent are left
    assert done["schedule"]["nextRound"] is None
    assert done["totals"]["noWindow"] == 5
    assert done["schedule"]["byRule"]["no-window"] == 5
    assert sorted(ledger_numbers(running)) == ny
    rows = [row async for row in engine.outcomes(journal, config=settings,
                                                 credentials=DEMO_CREDENTIALS, wall=time.wall)]
    told = {row.to: row for row in rows}
    for number in miami:
        assert told[number].outcome == "not-sent"
        assert told[number].retryable is False
        assert str(told[number].description).startswith("no-window")


async def test_a_sleeping_run_wakes_to_the_end_a_resume_journaled(
        start: Start, tmp_path: Path) -> None:
    """A run sleeping until 08:00 (it holds no lock meanwhile) is ended by `--resume J
    --expire-at now`; at its wake it reads the journaled expiry and ends expired: nobody is
    texted."""
    time = FakeTime(datetime(2026, 11, 20, 5, 0, tzinfo=ET))
    running, settings = await start(time)
    (tmp_path / "list.csv").write_text("to\n+12122000000\n+12122000001\n")
    journal = tmp_path / "run.journal"
    watch = Watch(running, time)
    ended: list[str] = []

    async def end_it() -> None:
        if not ended:
            report = await send(None, settings, time, watch, resume=journal,
                                expire_at="now", exit_when_waiting=True)
            ended.append(report["schedule"]["state"])

    report = await engine.send(tmp_path / "list.csv", sender=SENDER, text="Hi",
                               config=settings, credentials=DEMO_CREDENTIALS, wall=time.wall,
                               clock=time.clock, sleep=sleeper(time, end_it),
                               on_event=watch.on_event, journal=journal, quiet_hours="tcpa")
    assert ended == ["expired"]
    assert report["schedule"]["state"] == "expired"
    assert report["totals"]["expired"] == 2
    assert ledger_numbers(running) == []
