"""A scheduled send (issue 22) on a fake clock against the simulator: rounds, each a resume
of the journal, send every recipient exactly once and only inside their window; a daily cap
is filled exactly; a stop between rounds and --resume never send a round twice;
exit_when_waiting returns with the journal kept."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import anyio
import anyio.lowlevel
import jsonschema
import orjson
import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.config.settings import Settings
from engine.errors import UsageError
from engine.run.report import schema as report_schema
from engine.schedule.zones import FALLBACK_ZONES
from engine.simulator import RunningSimulator, start_simulator
from engine.types import Report
from tests.conftest import sim_settings
from tests.e2e.conftest import SENDER, engine_settings, ledger_numbers
from tests.e2e.killing import Killer, cut_after_submitting, send_or_resume

# area code -> (the zones a number of it is in, how many recipients the list has there)
AREAS = {"212": (("America/New_York",), 300), "312": (("America/Chicago",), 250),
         "415": (("America/Los_Angeles",), 250), "602": (("America/Phoenix",), 150),
         "808": (("Pacific/Honolulu",), 120), "800": (FALLBACK_ZONES, 30),
         "416": (("America/Toronto",), 60)}
# Friday 2026-11-20 05:00 Eastern (10:00 UTC): nobody's 8:00 yet
START = datetime(2026, 11, 20, 5, 0, tzinfo=ZoneInfo("America/New_York"))
MARGIN = timedelta(minutes=10)


class FakeTime:
    """The run's clocks: the calendar and the monotonic clock are one fake instant that only
    a sleep moves. A short sleep (a poll, a backoff) is also slept for real, so the fake
    clock never runs ahead of a request on the wire; a long one (a round's wait) is not."""

    def __init__(self, start: datetime) -> None:
        self.t = start.timestamp()
        self.sleeps: list[float] = []

    # Kept in whole microseconds, as the simulator writes its stamps: an instant its listing
    # prints and reads back is the very instant it holds (a float sum would drift from it)
    @property
    def t(self) -> float:
        return self._us / 1_000_000

    @t.setter
    def t(self, value: float) -> None:
        self._us = round(value * 1_000_000)

    tick = 0.0  # seconds each read of the calendar clock moves it (a slow run)

    def wall(self) -> float:
        self.t += self.tick
        return self.t

    def clock(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        if seconds > 60:
            self.sleeps.append(seconds)
        self.t += seconds
        await anyio.sleep(seconds if seconds <= 1 else 0)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)


Start = Callable[[FakeTime], Awaitable[tuple[RunningSimulator, Settings]]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """A simulator on a free loopback port on the test's fake clock (what it stamps and
    when it processes), processing at once, and settings for it."""
    started: list[RunningSimulator] = []

    async def make(time: FakeTime) -> tuple[RunningSimulator, Settings]:
        running = await start_simulator(sim_settings(messages_per_second=1e6),
                                        clock=lambda: time.t)
        started.append(running)
        return running, engine_settings(running.url)

    yield make
    for running in started:
        await running.stop()


def national_list(path: Path) -> dict[str, tuple[str, ...]]:
    """The list (CSV, one column) and each number's zones."""
    zones: dict[str, tuple[str, ...]] = {}
    for area, (where, count) in AREAS.items():
        for i in range(count):
            zones[f"+1{area}{2_000_000 + i * 7:07d}"] = where
    # interleaved, as a real list is: not one zone after another
    order = sorted(zones, key=lambda n: (int(n[-4:]) % 13, n))
    path.write_text("to\n" + "\n".join(order) + "\n")
    return zones


class Watch:
    """The simulator's ledger read at each event, with the fake instant: what each round
    sent, and when."""

    def __init__(self, running: RunningSimulator, time: FakeTime) -> None:
        self.running, self.time = running, time
        self.seen = 0
        self.sent: list[tuple[str, datetime]] = []
        self.events: list[dict[str, Any]] = []

    async def on_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        numbers = ledger_numbers(self.running)
        self.sent += [(n, self.time.now()) for n in numbers[self.seen:]]
        self.seen = len(numbers)

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]


Zones = TypeVar("Zones")  # what a list writer returns: each number's zone(s)


async def opening(start: Start, tmp_path: Path, listing: Callable[[Path], Zones],
                  at: datetime = START
                  ) -> tuple[FakeTime, RunningSimulator, Settings, Zones, Watch]:
    """A scheduled send's usual opening: the fake clock at ``at``, a simulator on it, the
    list ``listing`` writes to ``tmp_path``/list.csv (each number's zones), and a watch on
    the ledger."""
    time = FakeTime(at)
    running, settings = await start(time)
    zones = listing(tmp_path / "list.csv")
    return time, running, settings, zones, Watch(running, time)


def inside(number_zones: tuple[str, ...], when: datetime, lo: int = 8 * 60,
           hi: int = 21 * 60, margin: timedelta = MARGIN) -> bool:
    """Whether ``when`` is inside lo..hi (minutes) less the margin in every zone."""
    for zone in number_zones:
        local = when.astimezone(ZoneInfo(zone))
        minute = local.hour * 60 + local.minute
        if not lo <= minute or not minute < hi - margin.total_seconds() / 60:
            return False
    return True


async def send(path: Path | None, settings: Any, time: FakeTime, watch: Watch,
               **options: Any) -> Report:
    return await engine.send(path, sender=SENDER if path is not None else None, text="Hi",
                             config=settings, credentials=DEMO_CREDENTIALS, wall=time.wall,
                             clock=time.clock, sleep=time.sleep, on_event=watch.on_event,
                             **options)


async def test_a_national_list_goes_out_in_each_window_once(start: Start, tmp_path: Path
                                                           ) -> None:
    """Starting 05:00 Eastern under tcpa, nobody is texted before their local 8:00 and
    everyone exactly once, in rounds that wait for each zone's opening."""
    time, running, settings, zones, watch = await opening(start, tmp_path, national_list)
    journal = tmp_path / "run.journal"
    report = await send(tmp_path / "list.csv", settings, time, watch, journal=journal,
                        report=tmp_path / "report.json", quiet_hours="tcpa")
    numbers = ledger_numbers(running)
    assert Counter(numbers) == Counter(list(zones))  # everyone, once
    late = [(n, t) for n, t in watch.sent if not inside(zones[n], t)]
    assert not late
    assert report["schedule"]["state"] == "done"
    assert report["totals"]["deferred"] == report["totals"]["expired"] == 0
    written = orjson.loads((tmp_path / "report.json").read_bytes())
    jsonschema.Draft202012Validator(report_schema()).validate(written)
    assert written["schedule"] == report["schedule"]
    assert report["totals"]["sent"] == len(zones)
    assert report["totals"]["adoptedChunks"] == 0  # one clock: every answer is read as such
    waits = watch.kinds("waiting")
    assert waits
    assert all(w["reason"] == "quiet-hours" for w in waits)
    assert len(watch.kinds("summary")) == 1
    assert watch.events[-1]["event"] == "summary"
    header = orjson.loads(journal.read_bytes().split(b"\n", 1)[0])
    assert header["schedule"]["quietHours"] == "tcpa"
    assert sum(c["count"] for c in header["schedule"]["counts"]) == len(zones)
    assert header["schedule"]["waves"]["waves"]


@pytest.mark.parametrize("cap", [333])
async def test_a_daily_cap_sends_exactly_the_cap_a_day(start: Start, tmp_path: Path,
                                                       cap: int) -> None:
    """With --daily-cap N the first day carries exactly N and the rest go the next days."""
    time, running, settings, zones, watch = await opening(start, tmp_path, national_list)
    report = await send(tmp_path / "list.csv", settings, time, watch,
                        journal=tmp_path / "run.journal", daily_cap=cap)
    assert Counter(ledger_numbers(running)) == Counter(list(zones))
    by_day = Counter((t.astimezone(ZoneInfo("America/Los_Angeles")).date()) for _, t in watch.sent)
    days = [by_day[d] for d in sorted(by_day)]
    assert days[:-1] == [cap] * (len(days) - 1)
    assert 0 < days[-1] <= cap
    assert [w["reason"] for w in watch.kinds("waiting")] == ["daily-cap"] * (len(days) - 1)
    assert report["schedule"]["state"] == "done"


async def test_exit_when_waiting_keeps_the_journal_and_a_resume_finishes(
        start: Start, tmp_path: Path) -> None:
    """exit_when_waiting returns as soon as the next round is hours away (the report's
    schedule says waiting, the rest deferred); resumes later finish, nobody twice."""
    time, running, settings, zones, watch = await opening(start, tmp_path, national_list)
    journal = tmp_path / "run.journal"
    first = await send(tmp_path / "list.csv", settings, time, watch, journal=journal,
                       quiet_hours="tcpa", exit_when_waiting=True)
    assert ledger_numbers(running) == []  # 05:00 Eastern: nobody yet
    assert first["schedule"]["state"] == "waiting"
    assert first["totals"]["deferred"] == len(zones)
    assert journal.exists()
    rows = [row async for row in engine.outcomes(journal, config=settings,
                                                 credentials=DEMO_CREDENTIALS)]
    assert len(rows) == len(zones)
    assert all(row.outcome == "not-sent" and row.description.startswith("deferred: ")
               and not row.retryable for row in rows)
    with pytest.raises(UsageError, match="--daily-cap: the run in .* began with --daily-cap "
                       r"\(not given\)"):
        await send(None, settings, time, watch, resume=journal, daily_cap=5)
    assert ledger_numbers(running) == []
    for _ in range(20):  # cron: every run does what is due, then exits while waiting
        report = await send(None, settings, time, watch, resume=journal,
                            exit_when_waiting=True)
        if report["schedule"]["state"] == "done":
            break
        time.t = datetime.fromisoformat(report["schedule"]["nextRound"] or "").timestamp()
    assert report["schedule"]["state"] == "done"
    assert Counter(ledger_numbers(running)) == Counter(list(zones))
    assert not [(n, t) for n, t in watch.sent if not inside(zones[n], t)]


async def test_a_stop_between_rounds_and_a_resume_send_no_round_twice(
        start: Start, tmp_path: Path) -> None:
    """The run stopped while it waits for the next window (the library's stop); a resume
    goes on from the journal and nobody is texted twice."""
    time, running, settings, zones, watch = await opening(start, tmp_path, national_list)
    stop = anyio.Event()
    journal = tmp_path / "run.journal"

    async def on_event(event: dict[str, Any]) -> None:
        await watch.on_event(event)
        if event["event"] == "waiting" and watch.seen:
            stop.set()  # after the first round that sent, while it waits

    report = await engine.send(tmp_path / "list.csv", sender=SENDER, text="Hi",
                               config=settings, credentials=DEMO_CREDENTIALS, wall=time.wall,
                               clock=time.clock, sleep=time.sleep, on_event=on_event,
                               journal=journal, quiet_hours="tcpa", stop=stop)
    sent_first = len(ledger_numbers(running))
    assert 0 < sent_first < len(zones)
    assert report["schedule"]["state"] == "waiting"
    report = await send(None, settings, time, watch, resume=journal)
    assert Counter(ledger_numbers(running)) == Counter(list(zones))
    assert not [(n, t) for n, t in watch.sent if not inside(zones[n], t)]
    assert report["schedule"]["state"] == "done"


async def test_quiet_hours_off_is_today_s_send(start: Start, tmp_path: Path) -> None:
    """quiet_hours="off" and no cap, --at or --expire-at: the send is today's, and its
    journal has today's header (no schedule), whatever the flag says."""
    time, running, settings, zones, watch = await opening(start, tmp_path, national_list)
    headers = []
    for name, options in (("a", {}), ("b", {"quiet_hours": "off", "window_margin": 60})):
        journal = tmp_path / f"{name}.journal"
        await send(tmp_path / "list.csv", settings, time, watch, journal=journal, **options)
        headers.append(orjson.loads(journal.read_bytes().split(b"\n", 1)[0]))
    assert Counter(ledger_numbers(running)) == Counter(list(zones) * 2)  # at 05:00: all
    assert not watch.kinds("waiting")
    assert "schedule" not in headers[0]
    assert headers[0].keys() == headers[1].keys()


def created(running: RunningSimulator) -> list[tuple[str, datetime]]:
    """Every accepted message with the instant (the fake clock) its batch was created."""
    return [(batch.to(i), datetime.fromtimestamp(batch.created, UTC))
            for batch in running.simulator.store.batches for i in range(batch.size)]


async def test_no_batch_is_posted_past_the_window_deadline(start: Start, tmp_path: Path
                                                          ) -> None:
    """A slow round that reaches 20:50 Eastern (21:00 less the margin) POSTs no batch of
    Eastern recipients from then on; the chunks it cut and did not POST are not journaled,
    and their recipients go out at 8:00 the next day, once."""
    time = FakeTime(datetime(2026, 11, 20, 20, 48, tzinfo=ZoneInfo("America/New_York")))
    running, settings = await start(time)
    zones = national_list(tmp_path / "list.csv")
    watch = Watch(running, time)
    time.tick = 2.0  # every read of the clock is two seconds later, in the first round

    async def on_event(event: dict[str, Any]) -> None:
        await watch.on_event(event)
        if event["event"] == "waiting":
            time.tick = 0.0

    report = await engine.send(tmp_path / "list.csv", sender=SENDER, text="Hi",
                               config=settings, credentials=DEMO_CREDENTIALS, wall=time.wall,
                               clock=time.clock, sleep=time.sleep, on_event=on_event,
                               journal=tmp_path / "run.journal", quiet_hours="tcpa",
                               max_batch_messages=10, concurrency=1)
    sent = created(running)
    assert Counter(n for n, _ in sent) == Counter(list(zones))
    # the last POST began before 20:50 and, on this slow clock, was created a few seconds
    # after: inside the window, which is what the margin is for
    assert not [(n, t) for n, t in sent if not inside(zones[n], t, margin=timedelta(0))]
    night = datetime(2026, 11, 21, 5, tzinfo=UTC)  # midnight Eastern: the first round's
    eastern = [t for n, t in sent if t < night and n[:5] in ("+1212", "+1416")]
    assert max(eastern) < datetime(2026, 11, 21, 1, 51, tzinfo=UTC)
    days = Counter(t.astimezone(ZoneInfo("America/New_York")).date() for n, t in sent
                   if n.startswith("+1212"))
    assert len(days) == 2  # cut by the deadline, finished the next morning
    assert report["schedule"]["state"] == "done"
    # a chunk journaled and then found past the deadline was held, and cut again later
    assert {b["status"] for b in report["batches"]} <= {"completed", "superseded"}
    assert report["totals"]["sent"] == len(zones)


async def test_expire_at_leaves_the_rest_expired(start: Start, tmp_path: Path) -> None:
    """--expire-at 10:30 Eastern: the Pacific, Hawaii and toll-free recipients (none open
    before it) are never sent and are reported expired, in the totals and an event."""
    time, running, settings, zones, watch = await opening(start, tmp_path, national_list)
    report = await send(tmp_path / "list.csv", settings, time, watch,
                        journal=tmp_path / "run.journal", quiet_hours="tcpa",
                        expire_at="2026-11-20T10:30[America/New_York]")
    late = {n for n, z in zones.items() if z[0] in ("America/Los_Angeles", "Pacific/Honolulu")
            or len(z) > 1}
    assert Counter(ledger_numbers(running)) == Counter(n for n in zones if n not in late)
    assert report["totals"]["expired"] == len(late)
    assert report["schedule"]["state"] == "expired"
    assert [e["count"] for e in watch.kinds("expired")] == [len(late)]
    assert watch.events[-1]["event"] == "summary"
    rows = [row async for row in engine.outcomes(tmp_path / "run.journal", config=settings,
                                                 credentials=DEMO_CREDENTIALS,
                                                 only=("not-sent",))]
    assert {row.to for row in rows} == late
    assert all(row.description.startswith("expired: --expire-at 2026-11-20T15:30:00Z")
               and not row.retryable for row in rows)


async def test_a_stop_inside_a_round_and_a_resume_send_nobody_twice(
        start: Start, tmp_path: Path) -> None:
    """Stopped in the middle of a round (after its first batch), the run resumes from the
    journal: the round's rest, then the later rounds, each recipient once, in window."""
    time, running, settings, zones, watch = await opening(start, tmp_path, national_list)
    stop = anyio.Event()
    journal = tmp_path / "run.journal"

    async def on_event(event: dict[str, Any]) -> None:
        await watch.on_event(event)
        if event["event"] == "chunk_submitted" and time.now().hour >= 14:
            stop.set()  # the Central round, after its first batch

    report = await engine.send(tmp_path / "list.csv", sender=SENDER, text="Hi",
                               config=settings, credentials=DEMO_CREDENTIALS, wall=time.wall,
                               clock=time.clock, sleep=time.sleep, on_event=on_event,
                               journal=journal, quiet_hours="tcpa", stop=stop,
                               max_batch_messages=20, concurrency=1)
    assert report["interrupted"]
    assert 360 < len(ledger_numbers(running)) < len(zones)
    report = await send(None, settings, time, watch, resume=journal)
    assert Counter(ledger_numbers(running)) == Counter(list(zones))
    assert not [(n, t) for n, t in created(running) if not inside(zones[n], t)]
    assert report["schedule"]["state"] == "done"


# Saturday 2026-11-21 05:00 Eastern; (lo, hi) local minutes by weekday (0 Monday), None: closed
SATURDAY = datetime(2026, 11, 21, 5, 0, tzinfo=ZoneInfo("America/New_York"))
Hours = dict[int, tuple[int, int] | None]
TCPA: Hours = dict.fromkeys(range(7), (480, 1260))
STRICT_AREAS: dict[str, tuple[tuple[str, ...], int, dict[int, tuple[int, int] | None]]] = {
    "212": (("America/New_York",), 300, TCPA),
    "214": (("America/Chicago",), 300, {**dict.fromkeys(range(6), (540, 1260)), 6: (720, 1260)}),
    "305": (("America/New_York",), 300, dict.fromkeys(range(7), (480, 1200))),
    "401": (("America/New_York",), 200, {**dict.fromkeys(range(5), (540, 1080)),
                                         5: (600, 1020), 6: (600, 1020)}),
    "415": (("America/Los_Angeles",), 300, TCPA),
    "602": (("America/Phoenix",), 200, TCPA),
    "808": (("Pacific/Honolulu",), 150, TCPA),
    "416": (("America/Toronto",), 100, TCPA),
    # nothing known: every zone, and every state's rules (Louisiana: no Sundays)
    "800": (FALLBACK_ZONES, 50, {**dict.fromkeys(range(5), (540, 1080)), 5: (600, 1020),
                                 6: None}),
}


def strict_ok(area: str, when: datetime) -> bool:
    zones, _, hours = STRICT_AREAS[area]
    for zone in zones:
        local = when.astimezone(ZoneInfo(zone))
        window = hours[local.weekday()]
        minute = local.hour * 60 + local.minute
        if window is None or not window[0] <= minute < window[1] - 10:
            return False
    return True


async def test_strict_hours_a_cap_and_two_kills_over_three_days(start: Start, tmp_path: Path
                                                               ) -> None:
    """--quiet-hours strict --daily-cap 700 from Saturday 05:00 Eastern, the run killed twice
    in the middle of a round (cancelled at once, a request possibly on the wire) and resumed:
    every recipient once, each inside their state's window (Texas from noon on Sunday, no
    toll-free number on Sunday), and never more than the cap in a Pacific day."""
    time = FakeTime(SATURDAY)
    running, settings = await start(time)
    numbers = [f"+1{area}{2_000_000 + i * 7:07d}" for area, (_, count, _) in
               STRICT_AREAS.items() for i in range(count)]
    numbers.sort(key=lambda n: (int(n[-4:]) % 11, n))
    (tmp_path / "list.csv").write_text("to\n" + "\n".join(numbers) + "\n")
    watch = Watch(running, time)
    journal = tmp_path / "run.journal"
    kills = [3, 25]  # the chunk_submitted events (counted across processes) that kill it
    killer = Killer(kills, then=watch.on_event)
    reports = []
    for attempt in range(6):
        report = await killer.attempt(send_or_resume(
            attempt, tmp_path / "list.csv", journal, settings, time,
            {"quiet_hours": "strict", "daily_cap": 700}, max_batch_messages=50))
        reports += [report] if report is not None else []
        if reports and reports[-1]["schedule"]["state"] == "done":
            break
    assert not kills  # both kills happened
    assert reports[-1]["schedule"]["state"] == "done"
    sent = created(running)
    assert Counter(n for n, _ in sent) == Counter(numbers)
    assert not [(n, t) for n, t in sent if not strict_ok(n[2:5], t)]
    by_day = Counter(t.astimezone(ZoneInfo("America/Los_Angeles")).date() for _, t in sent)
    assert max(by_day.values()) <= 700
    assert len(by_day) >= 3


async def test_a_caught_chunk_screened_after_a_stop_is_still_held_outside_its_window(
        tmp_path: Path) -> None:
    """A chunk in flight at a kill (its POST never reached the server) whose recipient opts
    out during the stop: the resume at 21:30 Eastern screens it into a new chunk, and that
    chunk is held like its parent, never POSTed outside its recipients' window (the window
    check goes by the recipients, not by a chunk number this round did not cut)."""
    eastern = ZoneInfo("America/New_York")
    now = [datetime(2026, 11, 20, 20, 30, tzinfo=eastern).timestamp()]

    async def sleep(seconds: float) -> None:
        now[0] += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()

    numbers = [f"+1212{2000000 + i:07d}" for i in range(20)] + \
        [f"+1415{2000000 + i:07d}" for i in range(10)]  # Pacific: open at 21:30 Eastern
    listing = tmp_path / "list.csv"
    listing.write_text("to\n" + "\n".join(numbers) + "\n")
    journal = tmp_path / "run.journal"
    common: dict[str, Any] = {
        "credentials": DEMO_CREDENTIALS, "wall": lambda: now[0], "clock": lambda: now[0],
        "sleep": sleep, "max_batch_messages": 10, "concurrency": 1, "exit_when_waiting": True}
    first = await start_simulator(sim_settings(messages_per_second=1e6), clock=lambda: now[0])
    try:
        await engine.send(listing, sender=SENDER, text="Hi", config=engine_settings(first.url),
                          journal=journal, quiet_hours="tcpa", **common)
    finally:
        await first.stop()
    cut_after_submitting(journal)  # the kill
    now[0] = datetime(2026, 11, 20, 21, 30, tzinfo=eastern).timestamp()  # Eastern closed
    second = await start_simulator(sim_settings(messages_per_second=1e6), clock=lambda: now[0])
    head, rest = journal.read_bytes().split(b"\n", 1)  # a server that never got chunk 2
    header = orjson.loads(head)
    header["server"] = second.url
    journal.write_bytes(orjson.dumps(header) + b"\n" + rest)
    try:
        second.simulator.store.consents.set(SENDER, numbers[15], "OptOut", "Recipient",
                                            now[0] - 60)
        await engine.send(None, config=engine_settings(second.url), resume=journal, **common)
        texted = ledger_numbers(second)
    finally:
        await second.stop()
    assert texted, "the Pacific recipients, open at 21:30 Eastern, are sent"
    assert not [n for n in texted if n.startswith("+1212")]
