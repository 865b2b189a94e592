"""A scheduled send refuses what would break its schedule before any request: a library send
with a schedule and no journal, and on_ambiguous resend under a daily cap."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.errors import UsageError
from engine.simulator import RunningSimulator
from tests.e2e.conftest import SENDER
from tests.e2e.test_schedule_rounds import START, FakeTime, Start, start

__all__ = ["start"]  # the fixture, used by name


def requests(running: RunningSimulator) -> int:
    """Every request the simulator answered, whatever its status."""
    return sum(n for code, n in running.simulator.stats.items() if code.isdigit())


def eastern_list(path: Path, count: int = 30) -> Path:
    path.write_text("to\n" + "".join(f"+1212555{i:04d}\n" for i in range(count)))
    return path


@pytest.mark.parametrize("schedule", [{"quiet_hours": "tcpa"}, {"daily_cap": 5},
                                      {"at": "2026-11-21T09:00-05:00"},
                                      {"expire_at": "2026-11-21T09:00-05:00"}])
async def test_a_library_send_with_a_schedule_and_no_journal_is_refused_before_login(
        start: Start, tmp_path: Path, schedule: dict[str, object]) -> None:
    """engine.send with a schedule but no journal= raises UsageError naming journal=PATH, and
    no request reaches the server (nobody texted at 05:00)."""
    time = FakeTime(START)
    running, settings = await start(time)
    with pytest.raises(UsageError, match="journal=PATH"):
        await engine.send(eastern_list(tmp_path / "list.csv"), sender=SENDER, text="Hi",
                          config=settings, credentials=DEMO_CREDENTIALS, wall=time.wall,
                          clock=time.clock, sleep=time.sleep, report=tmp_path / "r.json",
                          **schedule)  # type: ignore[arg-type]
    assert requests(running) == 0
    assert not running.simulator.store.batches


async def test_resend_with_a_daily_cap_is_refused_before_login(start: Start, tmp_path: Path
                                                               ) -> None:
    """on_ambiguous="resend" with a daily cap (which it could break) raises UsageError
    naming both options and the fix; nothing is sent and no journal is made."""
    time = FakeTime(START)
    running, settings = await start(time)
    journal = tmp_path / "run.journal"
    with pytest.raises(UsageError, match=r"resend.*daily cap.*reconcile") as refused:
        await engine.send(eastern_list(tmp_path / "list.csv"), sender=SENDER, text="Hi",
                          config=settings, credentials=DEMO_CREDENTIALS, wall=time.wall,
                          clock=time.clock, sleep=time.sleep, journal=journal,
                          report=tmp_path / "r.json", daily_cap=20, on_ambiguous="resend")
    assert "--daily-cap" in str(refused.value)
    assert requests(running) == 0
    assert not journal.exists()


async def test_a_resume_with_resend_of_a_capped_journal_is_refused(start: Start,
                                                                   tmp_path: Path) -> None:
    """A run whose journal holds a daily cap, resumed with on_ambiguous="resend", is refused
    before any request: the cap comes from the journal, not the resume's options."""
    time = FakeTime(START)
    running, settings = await start(time)
    journal = tmp_path / "run.journal"
    common = {"config": settings, "credentials": DEMO_CREDENTIALS, "wall": time.wall,
              "clock": time.clock, "sleep": time.sleep, "exit_when_waiting": True}
    first = await engine.send(eastern_list(tmp_path / "list.csv"), sender=SENDER, text="Hi",
                              journal=journal, report=tmp_path / "r.json", daily_cap=20,
                              quiet_hours="tcpa", **common)  # type: ignore[arg-type]
    assert first["schedule"] is not None
    assert first["schedule"]["state"] == "waiting"
    before = requests(running)
    with pytest.raises(UsageError, match="resend"):
        await engine.send(None, resume=journal, on_ambiguous="resend",
                          **common)  # type: ignore[arg-type]
    assert requests(running) == before
