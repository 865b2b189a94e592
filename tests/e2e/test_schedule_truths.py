"""A scheduled send tells the truth about itself (the new user's findings on issue 22): the
report's status says waiting or expired while recipients are left; a tick before the first
window warns of no rejected list; a run that ended expired stays expired for a process whose
clock is behind; a past --expire-at is refused and a past --at said; a campaign folder that
moved resumes, its list checked by content, everyone texted once."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.errors import JournalError, UsageError
from engine.results.rows import Row
from engine.run.journal import read_journal
from engine.simulator import RunningSimulator
from tests.e2e.conftest import ledger_numbers
from tests.e2e.test_schedule_rounds import START, FakeTime, Start, Watch, send, start

__all__ = ["start"]  # fixtures

NEW_YORK = [f"+1212{2_000_000 + i * 7:07d}" for i in range(40)]
LOS_ANGELES = [f"+1415{2_000_000 + i * 7:07d}" for i in range(30)]
BAD = ("not-a-number", "12", "+1")


def write_list(path: Path, numbers: list[str], bad: tuple[str, ...] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("to\n" + "\n".join([*numbers, *bad]) + "\n")
    return path


async def rows_at(journal: Path, settings: engine.Settings, time: FakeTime) -> list[Row]:
    return [row async for row in engine.outcomes(journal, config=settings,
                                                 credentials=DEMO_CREDENTIALS,
                                                 wall=time.wall)]


def warnings(watch: Watch, code: str) -> list[dict[str, Any]]:
    return [e for e in watch.kinds("warning") if e["code"] == code]


async def test_the_status_says_waiting_and_a_tick_warns_of_no_rejected_list(
        start: Start, tmp_path: Path) -> None:
    """Before the first window opens the report and the summary say ``waiting`` (not
    ``completed``), and neither the first run nor a tick warns that the list was mostly
    rejected (its 3 bad rows are not 3 of 3: 40 more were read and wait); once everyone is
    sent the status is ``completed``."""
    time = FakeTime(START)  # 05:00 Eastern: New York opens at 08:00
    running, settings = await start(time)
    listed = write_list(tmp_path / "list.csv", NEW_YORK, BAD)
    journal = tmp_path / "run.journal"
    watch = Watch(running, time)
    first = await send(listed, settings, time, watch, journal=journal,
                       report=tmp_path / "r.json", quiet_hours="tcpa", exit_when_waiting=True)
    assert first["schedule"]["state"] == "waiting"
    assert first["status"] == "waiting"
    assert orjson.loads((tmp_path / "r.json").read_bytes())["status"] == "waiting"
    assert [e["status"] for e in watch.kinds("summary")] == ["waiting"]
    assert first["totals"]["rejectedLocal"] == len(BAD)
    time.t += 1800  # a cron tick half an hour later, still before 08:00
    tick = await send(None, settings, time, watch, resume=journal, exit_when_waiting=True)
    assert tick["status"] == "waiting"
    assert not warnings(watch, "mostly-rejected")
    assert not first["warnings"]
    assert not tick["warnings"]
    time.t += 4 * 3600  # 09:30 Eastern: New York's window is open
    done = await send(None, settings, time, watch, resume=journal)
    assert done["status"] == "completed"
    assert done["schedule"]["state"] == "done"
    assert Counter(ledger_numbers(running)) == Counter(NEW_YORK)


async def test_a_run_that_ended_expired_stays_expired_for_a_clock_behind(
        start: Start, tmp_path: Path) -> None:
    """A run whose --expire-at passed (by its own clock) journals that it ended expired: a
    resume by a process whose clock is behind sends nobody, says ``expired`` (report, schedule
    state, the summary event; the ``expired`` event was told once, by the run that expired)
    rather than waiting, and `a2p outcomes` there tells them ``expired``."""
    time = FakeTime(START)  # 05:00 Eastern; the list's windows open at 08:00 and 11:00
    running, settings = await start(time)
    listed = write_list(tmp_path / "list.csv", [*NEW_YORK, *LOS_ANGELES])
    journal = tmp_path / "run.journal"
    watch = Watch(running, time)
    expiry = START + timedelta(hours=4)  # 09:00 Eastern: New York sent, Los Angeles not
    ended = await send(listed, settings, time, watch, journal=journal,
                       report=tmp_path / "r.json", quiet_hours="tcpa", expire_at=expiry)
    assert ended["status"] == "expired"
    assert ended["schedule"]["state"] == "expired"
    assert ended["totals"]["expired"] == len(LOS_ANGELES)
    assert Counter(ledger_numbers(running)) == Counter(NEW_YORK)
    recorded = read_journal(journal).expired
    assert recorded is not None
    assert recorded["remaining"] == len(LOS_ANGELES)
    assert recorded["expireAt"] == "2026-11-20T14:00:00Z"
    assert [e["count"] for e in watch.kinds("expired")] == [len(LOS_ANGELES)]

    behind = FakeTime(START + timedelta(hours=1))  # 06:00 Eastern: before --expire-at
    watch = Watch(running, behind)
    again = await send(None, settings, behind, watch, resume=journal, exit_when_waiting=True)
    assert again["status"] == "expired"
    assert again["schedule"]["state"] == "expired"
    assert again["schedule"]["nextRound"] is None
    assert not watch.kinds("waiting")
    assert not watch.kinds("expired")  # told once per run
    assert [e["status"] for e in watch.kinds("summary")] == ["expired"]
    assert Counter(ledger_numbers(running)) == Counter(NEW_YORK)  # nobody more
    rows = await rows_at(journal, settings, behind)
    fates = Counter(r.fate for r in rows if r.outcome == "not-sent")
    assert fates == {"expired": len(LOS_ANGELES)}
    assert all(r.description.startswith("expired:") for r in rows if r.outcome == "not-sent")


async def test_a_past_expire_at_is_refused_before_anything(start: Start,
                                                           tmp_path: Path) -> None:
    """A new run whose --expire-at is already past (a mistyped date) is refused, naming the
    time and now: no journal, no request, nobody expired."""
    time = FakeTime(START)
    running, settings = await start(time)
    listed = write_list(tmp_path / "list.csv", NEW_YORK)
    journal = tmp_path / "run.journal"
    with pytest.raises(UsageError) as refused:
        await send(listed, settings, time, Watch(running, time), journal=journal,
                   expire_at=START - timedelta(days=4))
    message = str(refused.value)
    assert "--expire-at 2026-11-16T10:00:00Z is already past" in message
    assert "now 2026-11-20T10:00:00Z" in message
    assert "Give a later time" in message
    assert not journal.exists()
    assert ledger_numbers(running) == []


async def test_a_past_at_starts_now_and_says_so(start: Start, tmp_path: Path) -> None:
    """A new run whose --at is already past starts at once, and a warning says so (naming
    the time and now), so a mistyped date is seen at the first line."""
    time = FakeTime(START)
    running, settings = await start(time)
    listed = write_list(tmp_path / "list.csv", NEW_YORK)
    watch = Watch(running, time)
    report = await send(listed, settings, time, watch, journal=tmp_path / "run.journal",
                        at=START - timedelta(days=4))
    said = warnings(watch, "at-past")
    assert len(said) == 1
    assert "--at 2026-11-16T10:00:00Z is already past (now 2026-11-20T10:00:00Z)" in \
        said[0]["message"]
    assert report["status"] == "completed"
    assert Counter(ledger_numbers(running)) == Counter(NEW_YORK)


def _list_over_the_head(path: Path) -> tuple[Path, list[str]]:
    """A list whose New York part goes on past the head a resume compares (64 KiB), then
    Los Angeles."""
    east = [f"+1212{2_000_000 + i:07d}" for i in range(6000)]
    west = [f"+1415{2_000_000 + i:07d}" for i in range(3000)]
    write_list(path, [*east, *west])
    assert path.stat().st_size > 64 * 1024
    return path, [*east, *west]


Moved = tuple[RunningSimulator, engine.Settings, FakeTime, Path, list[str]]


async def _moved_campaign(start: Start, tmp_path: Path) -> Moved:
    """A campaign started in ``a/campaign`` at 09:00 Eastern (New York sent, Los Angeles
    waiting), then its folder copied to ``b/campaign`` (the list's modification time a new
    one, as a copy without -p leaves it) and the old one removed."""
    time = FakeTime(START + timedelta(hours=4))
    running, settings = await start(time)
    old = tmp_path / "a" / "campaign"
    listed, numbers = _list_over_the_head(old / "list.csv")
    watch = Watch(running, time)
    first = await send(listed, settings, time, watch, journal=old / "run.journal",
                       report=old / "r.json", quiet_hours="tcpa", exit_when_waiting=True)
    assert first["status"] == "waiting"
    assert Counter(ledger_numbers(running)) == Counter(numbers[:6000])
    new = tmp_path / "b" / "campaign"
    shutil.copytree(old, new)
    os.utime(new / "list.csv", ns=(1, 1))
    shutil.rmtree(tmp_path / "a")
    time.t += 3 * 3600  # 12:00 Eastern: Los Angeles is open
    return running, settings, time, new, numbers


async def test_a_moved_campaign_folder_resumes_with_input(start: Start,
                                                          tmp_path: Path) -> None:
    """The folder moved and the list's time changed: ``send(PATH, resume=J)`` (``a2p send
    --resume J --input PATH``) finishes the run, everyone texted exactly once, its report
    written in the new folder."""
    running, settings, time, new, numbers = await _moved_campaign(start, tmp_path)
    done = await send(new / "list.csv", settings, time, Watch(running, time),
                      resume=new / "run.journal")
    assert done["status"] == "completed"
    assert Counter(ledger_numbers(running)) == Counter(numbers)
    assert orjson.loads((new / "r.json").read_bytes())["status"] == "completed"


async def test_a_moved_campaign_folder_resumes_from_beside_its_journal(
        start: Start, tmp_path: Path) -> None:
    """Without --input, the list of the journal's name beside the journal is the run's
    (checked as any): the resume finishes the run, everyone texted exactly once."""
    running, settings, time, new, numbers = await _moved_campaign(start, tmp_path)
    done = await send(None, settings, time, Watch(running, time), resume=new / "run.journal")
    assert done["status"] == "completed"
    assert Counter(ledger_numbers(running)) == Counter(numbers)


async def test_a_moved_list_with_other_records_is_refused(start: Start,
                                                          tmp_path: Path) -> None:
    """A copy with the same size and head but two sent records swapped past the head (its
    time changed, so no file time vouches for it) is refused by content before any POST:
    nobody is texted twice or skipped."""
    running, settings, time, new, numbers = await _moved_campaign(start, tmp_path)
    listed = new / "list.csv"
    lines = listed.read_text().splitlines()
    lines[5900], lines[5901] = lines[5901], lines[5900]  # New York, sent, past 64 KiB
    listed.write_text("\n".join(lines) + "\n")
    os.utime(listed, ns=(1, 1))
    with pytest.raises(JournalError, match="not the list the run read"):
        await send(listed, settings, time, Watch(running, time), resume=new / "run.journal")
    assert Counter(ledger_numbers(running)) == Counter(numbers[:6000])


async def test_a_missing_list_names_the_fix(start: Start, tmp_path: Path) -> None:
    """A resume whose list is neither where the journal says nor beside it says to pass
    --input, not only that a file is missing."""
    running, settings, time, new, _ = await _moved_campaign(start, tmp_path)
    (new / "list.csv").unlink()
    with pytest.raises(UsageError, match="Resume with --input PATH"):
        await send(None, settings, time, Watch(running, time), resume=new / "run.journal")


