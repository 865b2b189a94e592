"""A scheduled send that places recipients by the list's --tz-column (issue 22 item 1) on a
fake clock against the simulator: a 212 number the column puts in America/Los_Angeles is
texted on Pacific hours, across a kill and a resume; a bad cell is a local rejection with its
line; under quiet hours a number outside +1 that nothing places is refused locally
(LCL-NO-TIMEZONE), never texted on US hours."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import anyio.lowlevel
import orjson
import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.reading import ReadOptions
from engine.reading.phone import Problem
from engine.schedule import zones as zones_module
from engine.schedule.placement import Placement
from engine.schedule.rules import parse_quiet_hours
from engine.schedule.zones import Placer
from engine.simulator import RunningSimulator, start_simulator
from engine.simulator.audit import audit
from tests.conftest import sim_settings
from tests.e2e.conftest import SENDER, engine_settings, ledger_numbers
from tests.e2e.killing import cut_after_submitting
from tests.e2e.test_cli_exit_codes import a2p, server, sim_env
from tests.e2e.test_schedule_rounds import (
    START,
    FakeTime,
    Start,
    Watch,
    created,
    inside,
    start,
)

__all__ = ["server", "start"]  # fixtures
LA, NY = "America/Los_Angeles", "America/New_York"
NO_TIMEZONE_CODE = "LCL-NO-TIMEZONE"


class ColumnPlacer(Placer):
    """The simulator audit's placer for this list: each number by its column cell first, as
    the list says (the audit otherwise knows only the number)."""

    def __init__(self, column: dict[str, str]) -> None:
        super().__init__(None)
        self.column = column

    def __call__(self, number: str, column_zone: str | None = None) -> Placement | Problem:
        return super().__call__(number, column_zone or self.column.get(number))


def zoned_list(path: Path) -> tuple[dict[str, tuple[str, ...]], dict[str, str], str]:
    """The list (to,tz): 212 numbers the column puts in Los Angeles, 212 numbers with a blank
    cell (New York by number), 415 numbers the column puts in New York, and one cell 'EST'
    (refused). Returns each sent number's zones, the column's cells, the refused number."""
    rows: list[tuple[str, str]] = []
    for i in range(120):
        rows.append((f"+1212{2_000_000 + i * 7:07d}", LA))
        rows.append((f"+1212{3_000_000 + i * 7:07d}", ""))
        if i < 60:
            rows.append((f"+1415{2_000_000 + i * 7:07d}", NY))
    refused = "+13125550100"
    rows.insert(57, (refused, "EST"))
    path.write_text("to,tz\n" + "".join(f"{to},{tz}\n" for to, tz in rows))
    where: dict[str, tuple[str, ...]] = {to: (tz or NY,) for to, tz in rows if to != refused}
    return where, {to: tz for to, tz in rows if tz and to != refused}, refused


async def test_a_column_zone_is_texted_on_its_hours_across_a_kill_and_a_resume(
        start: Start, tmp_path: Path) -> None:
    """--tz-column puts 212 numbers in Los Angeles: from 05:00 Eastern under tcpa they go out
    from 08:00 Pacific (11:00 Eastern), the 415 numbers the column puts in New York from 08:00
    Eastern, each once, across a kill in the middle of the Pacific round and a --resume; the
    simulator's audit by the column finds nobody outside their window; the bad cell is
    LCL-BAD-TIMEZONE with its line; the journal keeps tzColumn."""
    time = FakeTime(START)
    running, settings = await start(time)
    where, column, refused = zoned_list(tmp_path / "list.csv")
    watch = Watch(running, time)
    journal = tmp_path / "run.journal"
    pacific_open = datetime(2026, 11, 20, 8, 0, tzinfo=ZoneInfo(LA))
    killed = False
    before_kill: list[str] = []
    reports: list[Any] = []
    for attempt in range(4):
        async with anyio.create_task_group() as group:
            async def on_event(event: dict[str, Any], scope: anyio.CancelScope = group.cancel_scope
                               ) -> None:
                nonlocal killed
                await watch.on_event(event)
                if event["event"] == "chunk_submitted" and not killed and \
                        time.now() >= pacific_open:
                    killed = True
                    before_kill[:] = ledger_numbers(running)
                    scope.cancel()  # a kill inside the Pacific round: nothing after this runs

            async def run(on_event: Any = on_event, attempt: int = attempt) -> None:
                options: dict[str, Any] = {"resume": journal} if attempt else {
                    "journal": journal, "quiet_hours": "tcpa", "tz_column": "tz"}
                reports.append(await engine.send(
                    None if attempt else tmp_path / "list.csv",
                    sender=None if attempt else SENDER, text=None if attempt else "Hi",
                    config=settings, credentials=DEMO_CREDENTIALS, wall=time.wall,
                    clock=time.clock, sleep=time.sleep, on_event=on_event,
                    report=tmp_path / f"report{attempt}.json",
                    max_batch_messages=10, concurrency=1, **options))

            group.start_soon(run)
        if reports and reports[-1]["schedule"]["state"] == "done":
            break
    assert killed
    assert reports[-1]["schedule"]["state"] == "done"
    sent = created(running)
    assert Counter(n for n, _ in sent) == Counter(list(where))  # everyone once, not 'EST'
    assert not [(n, t) for n, t in sent if not inside(where[n], t)]
    los_angeles = [t for n, t in sent if column.get(n) == LA]
    assert min(los_angeles) >= pacific_open  # by the column, not by the 212 area code
    moved_east = [t for n, t in sent if n.startswith("+1415")]
    assert min(moved_east) < pacific_open  # the column opens them at 08:00 Eastern
    # the kill came inside the Pacific round: the resume sent the rest of it
    assert 0 < sum(column.get(n) == LA for n in before_kill) < len(los_angeles) == 120
    checked = audit(running.simulator.store, time.t, parse_quiet_hours("tcpa"),
                    where=ColumnPlacer(column))
    assert checked.processed == len(where)
    assert checked.clean, checked.as_json()
    # the audit by the numbers alone would see the 415s texted at 05:00 Pacific
    assert audit(running.simulator.store, time.t, parse_quiet_hours("tcpa"),
                 where=Placer(None)).outside_count >= 1
    last = orjson.loads((tmp_path / f"report{len(reports) - 1}.json").read_bytes())
    bad = [r for r in last["rejected"] if r["errorCode"] == "LCL-BAD-TIMEZONE"]
    assert [(r["to"], r["line"]) for r in bad] == [(refused, 59)]
    assert "'EST' (--tz-column tz) is a fixed offset" in bad[0]["description"]
    header = orjson.loads(journal.read_bytes().split(b"\n", 1)[0])
    assert header["schedule"]["tzColumn"] == "tz"
    assert header["read"]["tzColumn"] == "tz"
    rows = [row async for row in engine.outcomes(journal, config=settings,
                                                 credentials=DEMO_CREDENTIALS)]
    assert sorted(str(row.to) for row in rows if row.batchId and row.outcome != "not-sent") == \
        sorted(where)  # each told as sent by a batch
    assert [(row.to, row.errorCode) for row in rows if row.to not in where] == \
        [(refused, "LCL-BAD-TIMEZONE")]


async def test_a_number_outside_plus_one_with_no_zone_is_refused_under_quiet_hours(
        start: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without libphonenumber, under tcpa, a +44 number with a blank cell is a local
    rejection LCL-NO-TIMEZONE naming the fix (never texted on US hours), a +44 number whose
    cell says Europe/London is POSTed on London hours, and the run ends done."""
    monkeypatch.setattr(zones_module, "libphonenumber_zones", lambda: None)
    time = FakeTime(datetime(2026, 11, 20, 2, 0, tzinfo=UTC))  # 02:00 London, 21:00 Eastern
    running, settings = await start(time)
    (tmp_path / "list.csv").write_text("to,tz\n+442079460001,\n+442079460002,Europe/London\n"
                                       "+12125550100,\n")
    watch = Watch(running, time)
    report = await engine.send(
        tmp_path / "list.csv", sender=SENDER, text="Hi", config=settings,
        credentials=DEMO_CREDENTIALS, wall=time.wall, clock=time.clock, sleep=time.sleep,
        on_event=watch.on_event, journal=tmp_path / "run.journal", quiet_hours="tcpa",
        tz_column="tz", read=ReadOptions(batch_text="Hi", north_american_only=False))
    assert report["schedule"]["state"] == "done"
    assert ledger_numbers(running) == ["+12125550100"]
    assert inside((NY,), dict(created(running))["+12125550100"])
    # the simulator refuses numbers outside +1 (SMS-RC-410) in a batch it creates: that
    # batch was POSTed on London hours, not US ones
    london = [r for r in report["rejected"] if r["to"] == "+442079460002"]
    assert [r["errorCode"] for r in london] == ["SMS-RC-410"]
    batch = next(b for b in running.simulator.store.batches if b.id == london[0]["batchId"])
    assert inside(("Europe/London",), datetime.fromtimestamp(batch.created, UTC))
    refused = [r for r in report["rejected"] if r["errorCode"] == "LCL-NO-TIMEZONE"]
    assert [(r["to"], r["line"]) for r in refused] == [("+442079460001", 2)]
    assert "write its IANA zone (e.g. Europe/London) in that column, or install " \
        "a2p-batch-engine[timezones]" in refused[0]["description"]
    assert report["totals"]["rejectedLocal"] == 1
    rows = [row async for row in engine.outcomes(tmp_path / "run.journal", config=settings,
                                                 credentials=DEMO_CREDENTIALS)]
    assert [(row.to, row.outcome, row.errorCode) for row in rows if row.line == 2] == \
        [("+442079460001", "rejected-local", NO_TIMEZONE_CODE)]


async def test_a_caught_chunk_is_held_by_its_column_zone_on_a_resume(tmp_path: Path) -> None:
    """A chunk of 212 numbers the column puts in Los Angeles, in flight at a kill (its POST
    never reached the server), resumed the next morning at 10:00 Eastern (07:00 Pacific)
    while New York recipients are due: it is held by its recipients' column zone, not waved
    through by their New York area code, and POSTed from 08:00 Pacific, each once."""
    time = FakeTime(datetime(2026, 11, 20, 8, 30, tzinfo=ZoneInfo(LA)))

    async def sleep(seconds: float) -> None:  # the fake clock alone: proving a caught
        time.t += max(0.0, seconds)  # chunk absent waits out the listing's lag
        await anyio.lowlevel.checkpoint()

    numbers = [f"+1212{2_000_000 + i:07d}" for i in range(30)]  # Los Angeles, by the column
    eastern = [f"+1212{3_000_000 + i:07d}" for i in range(20)]  # blank: New York, open
    listing = tmp_path / "list.csv"
    listing.write_text("to,tz\n" + "".join(f"{n},{LA}\n" for n in numbers) +
                       "".join(f"{n},\n" for n in eastern))
    journal = tmp_path / "run.journal"
    common: dict[str, Any] = {
        "credentials": DEMO_CREDENTIALS, "wall": time.wall, "clock": time.clock,
        "sleep": sleep, "max_batch_messages": 10, "concurrency": 1}
    first = await start_simulator(sim_settings(messages_per_second=1e6), clock=lambda: time.t)
    try:
        await engine.send(listing, sender=SENDER, text="Hi", config=engine_settings(first.url),
                          journal=journal, quiet_hours="tcpa", tz_column="tz", **common)
    finally:
        await first.stop()
    cut_after_submitting(journal)  # the kill
    pacific_open = datetime(2026, 11, 21, 8, 0, tzinfo=ZoneInfo(LA))
    time.t = datetime(2026, 11, 21, 10, 0, tzinfo=ZoneInfo(NY)).timestamp()  # 07:00 Pacific
    # another server: its batch ids are not the first one's (another seed)
    second = await start_simulator(sim_settings(messages_per_second=1e6, failure_seed=2),
                                   clock=lambda: time.t)
    head, rest = journal.read_bytes().split(b"\n", 1)  # a server that never got chunk 2
    header = orjson.loads(head)
    header["server"] = second.url
    journal.write_bytes(orjson.dumps(header) + b"\n" + rest)
    try:
        report = await engine.send(None, config=engine_settings(second.url), resume=journal,
                                   **common)
        sent = created(second)
    finally:
        await second.stop()
    assert report["schedule"]["state"] == "done"
    # chunk 1 went out before the kill; the rest once, each on its own hours
    assert Counter(n for n, _ in sent) == Counter(numbers[10:] + eastern)
    assert min(t for n, t in sent if n in eastern) < pacific_open  # New York was open
    assert min(t for n, t in sent if n in numbers) >= pacific_open


def test_a2p_send_takes_tz_column_and_a_resume_keeps_it(tmp_path: Path,
                                                       server: RunningSimulator) -> None:
    """The CLI: a2p send --tz-column tz (a run waiting for --at tomorrow, exit 75) keeps the
    column in its journal; a resume with another column is refused naming the run's."""
    at = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%MZ")
    listing = tmp_path / "list.csv"
    listing.write_text(f"to,tz\n+12125550100,{LA}\n+12125550101,\n")
    first = a2p(["send", str(listing), "--from", SENDER, "--text", "Hi", "--report",
                 str(tmp_path / "r.json"), "--quiet-hours", "tcpa", "--tz-column", "tz",
                 "--at", at, "--exit-when-waiting"], env=sim_env(server))
    assert first.returncode == 75, first.stderr
    journal = tmp_path / "r.json.journal"
    header = orjson.loads(journal.read_bytes().split(b"\n", 1)[0])
    assert (header["schedule"]["tzColumn"], header["read"]["tzColumn"]) == ("tz", "tz")
    assert {(c["key"]["zones"][0], c["count"]) for c in header["schedule"]["counts"]} == \
        {(LA, 1), (NY, 1)}
    other = a2p(["send", "--resume", str(journal), "--tz-column", "zone",
                 "--exit-when-waiting"], env=sim_env(server))
    assert other.returncode == 2, other.stderr
    assert "--tz-column: the run in" in other.stderr
    assert "began with --tz-column tz" in other.stderr


async def test_a_rejected_recipient_is_placed_by_its_column_zone(start: Start,
                                                                 tmp_path: Path) -> None:
    """Under --tz-column, a suppressed 212 number the column puts in Los Angeles is told in
    Los Angeles from the column, in its ``rejected`` event and in `a2p outcomes`, as the
    recipient sent beside it is: not placed by its number."""
    time = FakeTime(START.replace(hour=12))  # 09:00 Pacific: both windows open
    running, settings = await start(time)
    listed = tmp_path / "list.csv"
    listed.write_text(f"to,tz\n+12125550101,{LA}\n+12125550102,{LA}\n+12125550103,\n")
    watch = Watch(running, time)
    common: dict[str, Any] = {"config": settings, "credentials": DEMO_CREDENTIALS,
                              "wall": time.wall, "clock": time.clock}
    report = await engine.send(listed, sender=SENDER, text="Hi", sleep=time.sleep,
                               journal=tmp_path / "run.journal", quiet_hours="tcpa",
                               tz_column="tz", on_event=watch.on_event,
                               suppress=[["+12125550101", "+12125550103"]], **common)
    assert report["totals"]["sent"] == 1
    told = {e["to"]: (e["zone"], e["zoneSource"]) for e in watch.kinds("rejected")}
    assert told == {"+12125550101": (LA, "column"),
                    "+12125550103": (NY, "libphonenumber")}  # a blank cell: by its number
    rows = {row.to: (row.outcome, row.zone, row.zoneSource)
            async for row in engine.outcomes(tmp_path / "run.journal", **common)}
    assert rows["+12125550101"] == ("rejected-local", LA, "column")
    assert rows["+12125550102"][1:] == (LA, "column")
    assert rows["+12125550103"] == ("rejected-local", NY, "libphonenumber")
