"""A scheduled send paces itself by what the server can PROCESS before the deadline (the
simulator processing a sender's batches one after another, at 1 message a second as a 10DLC
number): nothing is processed after the window closes or on the next cap day, and no batch
is created after the deadline, even when the request waited for a 429's Retry-After or the
Light budget after the deadline was checked. Judged by the simulator's own audit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.config.settings import PollSettings, Settings
from engine.rc.transport import AiohttpTransport, Reply
from engine.schedule.rules import parse_quiet_hours
from engine.simulator import GroupLimit, RunningSimulator, start_simulator
from engine.simulator.audit import Audit, audit
from engine.types import Report
from tests.conftest import sim_settings
from tests.e2e.conftest import SENDER, engine_settings

PT = ZoneInfo("America/Los_Angeles")
BUSY_LOOKS = 100_000  # real looks (1 ms each) a long sleep waits for requests on the wire


class Wire:
    """The transport, counting the requests on the wire."""

    def __init__(self) -> None:
        self.inner = AiohttpTransport(10.0)
        self.busy = 0

    async def request(self, method: str, url: str, *, headers: Mapping[str, str],
                      body: Any = None, params: Mapping[str, Any] | None = None) -> Reply:
        self.busy += 1
        try:
            return await self.inner.request(method, url, headers=headers, body=body,
                                            params=params)
        finally:
            self.busy -= 1

    async def close(self) -> None:
        await self.inner.close()


class FakeTime:
    """One fake instant for the calendar and the monotonic clock, moved only by sleeps. A
    sleep of a second or less is also slept for real; a longer one first waits until no
    request is on the wire, so no request reaches the simulator later on the fake clock than
    the instant the engine sent it at."""

    def __init__(self, start: datetime, wire: Wire) -> None:
        self.t = start.timestamp()
        self.wire = wire

    def wall(self) -> float:
        return self.t

    def clock(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        if seconds > 1:
            for _ in range(BUSY_LOOKS):
                if not self.wire.busy:
                    break
                await anyio.sleep(0.001)
        self.t += seconds
        await anyio.sleep(seconds if seconds <= 1 else 0)


@pytest.fixture
async def wire() -> AsyncIterator[Wire]:
    """The test's transport, closed after it (the engine closes only the ones it made)."""
    made = Wire()
    yield made
    await made.close()


@pytest.fixture
async def simulators() -> AsyncIterator[list[RunningSimulator]]:
    started: list[RunningSimulator] = []
    yield started
    for running in started:
        await running.stop()


def slow_settings(url: str) -> Settings:
    """Polls every few fake seconds, followed for a day: a batch takes minutes to process."""
    return engine_settings(url, polling=PollSettings(interval=5.0, max_interval=30.0,
                                                     timeout=86400.0))


def pacific(count: int) -> list[str]:
    return [f"+1415{2_000_000 + i:07d}" for i in range(count)]


async def send(path: Path, time: FakeTime, wire: Wire, settings: Settings,
               **options: Any) -> Report:
    return await engine.send(path, sender=SENDER, text="Hi", config=settings,
                             credentials=DEMO_CREDENTIALS, wall=time.wall, clock=time.clock,
                             sleep=time.sleep, transport=wire, journal=path.parent / "j",
                             **options)


def write(path: Path, numbers: list[str]) -> Path:
    path.write_text("to\n" + "\n".join(numbers) + "\n")
    return path


def audited(running: RunningSimulator, time: FakeTime, policy: str,
            cap: int | None = None) -> Audit:
    return audit(running.simulator.store, time.t + 86400, parse_quiet_hours(policy),
                 daily_cap=cap)


async def test_a_round_posts_only_what_is_processed_before_the_window_closes(
        simulators: list[RunningSimulator], wire: Wire, tmp_path: Path) -> None:
    """1,000 Pacific recipients at 20:35 PT, the server at 1 message a second: the round
    sends what is processed by 20:50 (batches queue one behind the other), the rest at 8:00
    the next day; nobody is texted after 21:00, nobody twice."""
    time = FakeTime(datetime(2026, 11, 20, 20, 35, tzinfo=PT), wire)
    running = await start_simulator(sim_settings(messages_per_second=1.0), clock=time.clock)
    simulators.append(running)
    report = await send(write(tmp_path / "list.csv", pacific(1000)), time, wire,
                        slow_settings(running.url), quiet_hours="tcpa",
                        max_batch_messages=100, wait="accepted")
    result = audited(running, time, "tcpa")
    assert (result.processed, result.outside_count, result.repeated_count) == (1000, 0, 0)
    assert report["schedule"]["state"] == "done"
    batches = running.simulator.store.batches
    deadline = datetime(2026, 11, 20, 20, 50, tzinfo=PT).timestamp()
    evening = [b for b in batches if b.created < deadline]
    assert evening
    assert all(b.finished_at() <= deadline for b in evening)
    assert sum(b.size for b in evening) < 1000  # the rest went the next morning


async def test_a_daily_cap_s_queue_never_crosses_midnight_pacific(
        simulators: list[RunningSimulator], wire: Wire, tmp_path: Path) -> None:
    """--daily-cap 1000 with quiet hours off, 2,000 recipients from 23:45 PT at 1 message a
    second: what is sent before midnight is processed before it, and no carrier day (the
    day a message is processed) carries more than the cap."""
    time = FakeTime(datetime(2026, 11, 20, 23, 45, tzinfo=PT), wire)
    running = await start_simulator(sim_settings(messages_per_second=1.0), clock=time.clock)
    simulators.append(running)
    report = await send(write(tmp_path / "list.csv", pacific(2000)), time, wire,
                        slow_settings(running.url), daily_cap=1000, max_batch_messages=250,
                        wait="accepted")
    result = audited(running, time, "off", cap=1000)
    assert (result.processed, result.repeated_count) == (2000, 0)
    assert result.per_cap_day
    assert max(result.per_cap_day.values()) <= 1000
    assert result.per_cap_day["2026-11-20"] > 0  # the evening was used, up to 23:50
    assert result.over_cap == {}
    assert report["schedule"]["state"] == "done"


async def test_a_429_s_retry_after_past_the_deadline_holds_the_chunk(
        simulators: list[RunningSimulator], wire: Wire, tmp_path: Path) -> None:
    """The first POST, 70 s before the deadline, is answered 429 Retry-After 120: the retry
    would go out after the deadline, so it is held; no batch is created at or after the
    deadline, and the recipients go out the next morning."""
    closes = datetime(2026, 11, 20, 21, 0, tzinfo=PT).timestamp()
    time = FakeTime(datetime.fromtimestamp(closes - 60 - 70, UTC), wire)
    running = await start_simulator(sim_settings(), clock=time.clock)
    simulators.append(running)
    sim = running.simulator
    sim.set_faults(replace(sim.faults, scope="send", burst_length=1, burst_retry_after=120))
    sim.burst_left = 1
    report = await send(write(tmp_path / "list.csv", pacific(10)), time, wire,
                        slow_settings(running.url), quiet_hours="tcpa", window_margin=60.0,
                        send_rate=1000.0, max_batch_messages=10, wait="accepted")
    assert sim.stats["429"] == 1
    assert all(b.created < closes - 60 or b.created >= closes + 10 * 3600
               for b in sim.store.batches)
    result = audited(running, time, "tcpa")
    assert (result.processed, result.outside_count, result.repeated_count) == (10, 0, 0)
    assert report["schedule"]["state"] == "done"


async def test_the_light_budget_s_pacing_past_the_deadline_holds_the_chunks(
        simulators: list[RunningSimulator], wire: Wire, tmp_path: Path) -> None:
    """A Light budget of 4 requests a minute, 200 s before the deadline: the chunks that
    would wait for the budget past the deadline are held, and no batch is created at or
    after it."""
    deadline = datetime(2026, 11, 20, 20, 50, tzinfo=PT).timestamp()
    time = FakeTime(datetime.fromtimestamp(deadline - 200, UTC), wire)
    running = await start_simulator(sim_settings(light=GroupLimit(4, 60.0, 60.0)),
                                    clock=time.clock)
    simulators.append(running)
    settings = slow_settings(running.url)
    settings = replace(settings, rate_limit=replace(settings.rate_limit, light_requests=4,
                                                    light_window=60.0))
    # 30 chunks: at 4 requests a minute, more than the 200 s before the deadline can take
    report = await send(write(tmp_path / "list.csv", pacific(300)), time, wire, settings,
                        quiet_hours="tcpa", send_rate=1000.0, max_batch_messages=10,
                        exit_when_waiting=True, wait="accepted")
    batches = running.simulator.store.batches
    assert batches
    assert all(b.created < deadline for b in batches)
    assert report["schedule"]["state"] == "waiting"
    assert report["totals"]["sent"] == sum(b.size for b in batches) < 300


class TrackedTime(FakeTime):
    """FakeTime for a tracked run: the tracker naps while the list is read in a thread, and
    each free nap would move the fake clock on by its whole length; a long sleep also gives
    the thread a few real milliseconds, so the reading does not seem to take hours."""

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds)
        if seconds > 1:
            await anyio.sleep(0.005)


async def test_batches_timed_out_by_the_tracker_still_hold_the_queue(
        simulators: list[RunningSimulator], wire: Wire, tmp_path: Path) -> None:
    """A polling timeout of 10 minutes gives up batches the server (1 message a second) still
    has queued; the rounds after still count them in the queue: nothing is processed after
    21:00, nobody twice, and the run ends done (never early with recipients due)."""
    time = TrackedTime(datetime(2026, 11, 20, 19, 50, tzinfo=PT), wire)
    running = await start_simulator(sim_settings(messages_per_second=1.0,
                                                 light=GroupLimit(4, 60.0, 60.0)),
                                    clock=time.clock)
    simulators.append(running)
    settings = engine_settings(running.url, polling=PollSettings(interval=5.0,
                                                                 max_interval=30.0,
                                                                 timeout=600.0))
    settings = replace(settings, rate_limit=replace(settings.rate_limit, light_requests=4,
                                                    light_window=60.0))
    report = await send(write(tmp_path / "list.csv", pacific(6000)), time, wire, settings,
                        quiet_hours="tcpa", max_batch_messages=100, wait="completed")
    result = audited(running, time, "tcpa")
    assert (result.processed, result.outside_count, result.repeated_count) == (6000, 0, 0)
    assert report["schedule"]["state"] == "done"
    closes = datetime(2026, 11, 20, 21, 0, tzinfo=PT).timestamp()
    assert any(b.created < closes for b in running.simulator.store.batches)  # evening used


async def test_a_round_whose_only_chunk_no_longer_fits_when_it_goes_waits_not_ends(
        simulators: list[RunningSimulator], wire: Wire, tmp_path: Path) -> None:
    """One chunk cut to the room at 20:35 PT (1 a second, the round's deadline 20:50), then
    a Light budget of one request in 100 s (taken by the round's listing of the
    number's batches queued ahead) holds its POST past the minute the room left for it: it no longer
    fits and is held. The round sent nothing, yet the run is not over:
    it waits for the deadline and sends everyone the next morning, inside the window."""
    time = FakeTime(datetime(2026, 11, 20, 20, 35, tzinfo=PT), wire)
    running = await start_simulator(sim_settings(messages_per_second=1.0,
                                                 light=GroupLimit(1, 100.0, 100.0)),
                                    clock=time.clock)
    simulators.append(running)
    settings = slow_settings(running.url)
    settings = replace(settings, rate_limit=replace(settings.rate_limit, light_requests=1,
                                                    light_window=100.0))
    events: list[dict[str, Any]] = []

    async def on_event(event: dict[str, Any]) -> None:
        events.append(event)

    report = await send(write(tmp_path / "list.csv", pacific(1000)), time, wire, settings,
                        quiet_hours="tcpa", max_batch_messages=1000, wait="accepted",
                        on_event=on_event)
    held = [e for e in events if e["event"] == "waiting" and e.get("reason") == "processing"]
    result = audited(running, time, "tcpa")
    assert held, [e["event"] for e in events]
    assert report["schedule"]["state"] == "done"
    assert (result.processed, result.outside_count, result.repeated_count) == (1000, 0, 0)


async def test_a_run_that_slept_while_a_tick_sent_counts_the_tick_s_batches_in_its_queue(
        simulators: list[RunningSimulator], wire: Wire, tmp_path: Path) -> None:
    """A window of 08:00-08:30 PT (so its deadline is 08:20), 3,000 recipients, the number
    at 1 message a second. The run sleeps from 07:00; at the opening a cron tick takes the
    journal and POSTs what the server can process by 08:20, then exits (--wait accepted).
    The run wakes: the tick's batches are in its queue (read from the journal), so it finds
    no room and sends the rest on the next days: nobody processed outside the window."""
    time = FakeTime(datetime(2026, 11, 20, 7, 0, tzinfo=PT), wire)
    running = await start_simulator(sim_settings(messages_per_second=1.0), clock=time.clock)
    simulators.append(running)
    settings = slow_settings(running.url)
    listing = write(tmp_path / "list.csv", pacific(3000))
    journal = tmp_path / "j"
    ticks: list[Report] = []
    opens = datetime(2026, 11, 20, 8, 1, tzinfo=PT).timestamp()  # 08:00 and the send's lead

    async def sleep(seconds: float) -> None:
        wakes = time.t + seconds
        if not ticks and wakes >= opens:  # the tick comes at the opening, the run sleeps on
            time.t = max(time.t, opens)
            ticks.append(await engine.send(
                None, config=settings, credentials=DEMO_CREDENTIALS, wall=time.wall,
                clock=time.clock, sleep=time.sleep, transport=wire, resume=journal,
                wait="accepted", exit_when_waiting=True))
        await time.sleep(max(0.0, wakes - time.t))

    report = await engine.send(listing, sender=SENDER, text="Hi", config=settings,
                               credentials=DEMO_CREDENTIALS, wall=time.wall, clock=time.clock,
                               sleep=sleep, transport=wire, journal=journal,
                               quiet_hours="08:00-08:30", max_batch_messages=100,
                               wait="accepted", exit_when_waiting=False,
                               expire_at=datetime(2026, 11, 22, 12, 0, tzinfo=PT))
    result = audited(running, time, "08:00-08:30")
    assert ticks
    assert ticks[0]["totals"]["sent"] > 0  # the tick sent the first round
    assert (result.outside_count, result.repeated_count) == (0, 0)
    assert report["totals"]["sent"] + report["totals"]["expired"] == 3000
