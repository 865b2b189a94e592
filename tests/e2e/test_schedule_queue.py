"""The number's queue as a scheduled send's rounds list it (engine/run/sharednumber.py) and
the day's cap as carriers count it, against what broke them (adv29b): a backlog older than
a day, a listing that fails, a queue drained the day before, cron ticks each day, a lost
answer's batch inside a round, another tool's batch processed after midnight. Each asserts
the promise on the simulator's audit. (A batch the listing has not shown yet, a lagging
index, is not seen: docs/schedule.md names it as what the margin must cover.)"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.config.settings import PollSettings, Settings
from engine.rc.transport import Reply
from engine.simulator import RunningSimulator, start_simulator
from engine.simulator.store import Batch
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
from tests.e2e.test_schedule_shared import hawaii

PT = ZoneInfo("America/Los_Angeles")
__all__ = ["simulators", "wire"]


def slow(url: str, **retry: Any) -> Settings:
    base = engine_settings(url, polling=PollSettings(interval=5.0, max_interval=30.0,
                                                     timeout=86400.0))
    return replace(base, retry=replace(base.retry, **retry)) if retry else base


def late(batches: list[Batch], closes: float) -> int:
    """Messages of ``batches`` created before ``closes`` (the evening's) processed after it
    (in the night: the next morning's batches are created after the window opens again)."""
    return sum(1 for b in batches if b.created < closes
               for i in range(b.size) if b.processed_at(i) > closes)


async def test_a_backlog_older_than_a_day_on_the_number_is_queued_ahead(
        simulators: list[RunningSimulator], wire: Wire, tmp_path: Path) -> None:
    """Another tool (a plain `a2p send` of a big list) POSTed 93,000 messages on the number
    25 hours ago; at 1 message a second 3,000 are still queued at 20:00 PT. Our quiet-hours
    send of 1,000 Pacific recipients starting then must not be processed after 21:00: the
    listing of the queue must see a batch created more than 24 hours ago (the listing's
    default dateFrom is dateTo less 24 hours)."""
    start = datetime(2026, 11, 20, 20, 0, tzinfo=PT)
    closes = datetime(2026, 11, 20, 21, 0, tzinfo=PT).timestamp()
    time = TrackedTime(start, wire)
    running = await start_simulator(sim_settings(messages_per_second=1.0), clock=time.clock)
    simulators.append(running)
    store = running.simulator.store
    backlog = 25 * 3600 + 3000
    other, _ = store.create_batch({"from": SENDER, "text": "Sale",
                                   "messages": [{"to": [n]} for n in hawaii(backlog)]},
                                  start.timestamp() - 25 * 3600)
    assert other.finished_at() - start.timestamp() == 3000  # 3,000 still queued at 20:00
    report = await send(write(tmp_path / "list.csv", pacific(1000)), time, wire,
                        slow(running.url), quiet_hours="tcpa", max_batch_messages=100,
                        wait="accepted")
    ours = [b for b in store.batches if b.id != other.id]
    assert sum(b.size for b in ours) == 1000
    assert late(ours, closes) == 0, ("late", late(ours, closes), "state",
                                     report["schedule"]["state"])


async def test_lost_answers_inside_a_round_do_not_free_their_room(
        simulators: list[RunningSimulator], wire: Wire, tmp_path: Path) -> None:
    """20,000 Pacific recipients at 20:00 PT, 1 message a second, --max-batch-messages 100,
    the default margin (= the production lost-answer window): the round may POST what is
    processed by 20:50 (2,940). Some batch POSTs are answered 503 after the
    batch was created (a gateway's 5xx), and the listing shows a batch 30 s late: each such
    batch is on the server, queued, while reconciliation looks for it (and adopts it).
    Nobody may be processed after 21:00, nobody twice."""
    start = datetime(2026, 11, 20, 20, 0, tzinfo=PT)
    time = TrackedTime(start, wire)
    running = await start_simulator(sim_settings(messages_per_second=1.0), clock=time.clock)
    simulators.append(running)
    sim = running.simulator
    sim.set_faults(replace(sim.faults, seed=7, scope="send", error_after_create_rate=0.4,
                           listing_lag=30.0))
    report = await send(write(tmp_path / "list.csv", pacific(20000)), time, wire,
                        slow(running.url, reconcile_window=600.0), quiet_hours="tcpa",
                        max_batch_messages=100, wait="accepted",
                        expire_at=start + timedelta(hours=13))
    result = audited(running, time, "tcpa")
    said = ("outside", result.outside_count, "repeated", result.repeated_count,
            "lost answers", sim.stats["error_after_create"], "state",
            report["schedule"]["state"])
    assert (result.outside_count, result.repeated_count) == (0, 0), said


class FailingListing(Wire):
    """The transport, answering 503 to the round-start listing of the queue (GET
    .../batches?status=...) from the ``after``-th on, for ``count`` of them."""

    def __init__(self, after: int, count: int) -> None:
        super().__init__()
        self.after, self.count, self.seen, self.failed = after, count, 0, 0

    async def request(self, method: str, url: str, *, headers: Mapping[str, str],
                      body: Any = None, params: Mapping[str, Any] | None = None) -> Reply:
        if method == "GET" and url.endswith("/a2p-sms/batches") and params and \
                "status" in params:
            self.seen += 1
            if self.seen > self.after and self.failed < self.count:
                self.failed += 1
                return Reply(503, {"Content-Type": "application/json"},
                             b'{"errorCode":"CMN-211","message":"Service temporarily '
                             b'unavailable"}')
        return await super().request(method, url, headers=headers, body=body, params=params)


async def test_a_failing_queue_listing_at_a_round_s_start_does_not_end_the_run(
        simulators: list[RunningSimulator], tmp_path: Path) -> None:
    """A quiet-hours send (no daily cap) of 3,000 Pacific recipients from 20:40 PT: the
    evening round sends what fits, the next round is at 08:00. At that round's start the
    listing of the number's queue (a read the round did not make before pace29) answers
    503 for a while (more than the retries). The run must not end with recipients due:
    the round goes on, or waits and lists again."""
    start = datetime(2026, 11, 20, 20, 40, tzinfo=PT)
    listing = FailingListing(after=1, count=40)
    time = TrackedTime(start, listing)
    try:
        running = await start_simulator(sim_settings(messages_per_second=1.0),
                                        clock=time.clock)
        simulators.append(running)
        failure: Exception | None = None
        state = None
        try:
            report = await send(write(tmp_path / "list.csv", pacific(3000)), time, listing,
                                slow(running.url), quiet_hours="tcpa",
                                max_batch_messages=100, wait="accepted")
            state = report["schedule"]["state"]
        except Exception as exc:  # what the run ended with is the finding
            failure = exc
        sent = sum(b.size for b in running.simulator.store.batches)
        said = ("sent", sent, "failed listings", listing.failed, "ended with",
                repr(failure)[:300], state)
        assert failure is None, said
        assert sent == 3000, said
    finally:
        await listing.close()


async def test_another_tool_s_batch_processed_after_midnight_counts_on_the_next_cap_day(
        simulators: list[RunningSimulator], wire: Wire, tmp_path: Path) -> None:
    """Another tool POSTed 3,000 messages on the number at 23:30 PT; at 1 message a second
    1,200 of them are processed after 00:00, on the next carrier day (carriers count the
    day a message is processed). Our --daily-cap 10000 send of 20,000 from 23:30: no
    carrier day may carry more than 10,000 messages of the number."""
    start = datetime(2026, 11, 20, 23, 30, tzinfo=PT)
    time = TrackedTime(start, wire)
    running = await start_simulator(sim_settings(messages_per_second=1.0), clock=time.clock)
    simulators.append(running)
    running.simulator.store.create_batch(
        {"from": SENDER, "text": "Sale", "messages": [{"to": [n]} for n in hawaii(3000)]},
        start.timestamp() - 1)
    report = await send(write(tmp_path / "list.csv", pacific(20000)), time, wire,
                        slow(running.url), daily_cap=10000, max_batch_messages=500,
                        wait="accepted")
    result = audited(running, time, "off", cap=10000)
    assert result.over_cap == {}, (result.per_cap_day, report["schedule"]["state"])


async def test_a_day_s_queue_is_not_counted_again_the_next_day(
        simulators: list[RunningSimulator], wire: Wire, tmp_path: Path) -> None:
    """--quiet-hours 09:00-10:00 --wait accepted, 8,000 Pacific recipients from 09:00 PT at
    1 message a second: each day's window holds 2,940 (to 09:50, less the round's minute),
    processed long before the next morning. Days 1 and 2 must send 2,940 each and day 3 the
    rest: the run ends done, never waiting 'processing' on an idle server."""
    start = datetime(2026, 11, 20, 9, 0, tzinfo=PT)
    time = TrackedTime(start, wire)
    running = await start_simulator(sim_settings(messages_per_second=1.0), clock=time.clock)
    simulators.append(running)
    store = running.simulator.store
    waits: list[tuple[str, str]] = []
    report = await send(write(tmp_path / "list.csv", pacific(8000)), time, wire,
                        slow(running.url), quiet_hours="09:00-10:00", max_batch_messages=100,
                        wait="accepted", expire_at=start + timedelta(days=2, hours=2),
                        on_event=lambda e: waits.append((e["until"], e["reason"]))
                        if e["event"] == "waiting" else None)
    per_day: dict[str, int] = {}
    for b in store.batches:
        day = datetime.fromtimestamp(b.created, PT).date().isoformat()
        per_day[day] = per_day.get(day, 0) + b.size
    said = ("sent per day", per_day, "state", report["schedule"]["state"], "waits", waits)
    assert sum(per_day.values()) == 8000, said
    assert report["schedule"]["state"] == "done", said


async def test_cron_ticks_send_each_day_s_window(
        simulators: list[RunningSimulator], wire: Wire, tmp_path: Path) -> None:
    """The same send as cron ticks (--resume J --wait accepted --exit-when-waiting, a tick
    each morning at 09:00 PT): each day's tick must send that day's window, and the third
    ends the run done."""
    start = datetime(2026, 11, 20, 9, 0, tzinfo=PT)
    time = TrackedTime(start, wire)
    running = await start_simulator(sim_settings(messages_per_second=1.0), clock=time.clock)
    simulators.append(running)
    store = running.simulator.store
    settings = slow(running.url)
    report = await send(write(tmp_path / "list.csv", pacific(8000)), time, wire, settings,
                        quiet_hours="09:00-10:00", max_batch_messages=100, wait="accepted",
                        exit_when_waiting=True)
    for day in (21, 22):
        time.t = datetime(2026, 11, day, 9, 0, tzinfo=PT).timestamp()
        report = await engine.send(None, config=settings, credentials=DEMO_CREDENTIALS,
                                   wall=time.wall, clock=time.clock, sleep=time.sleep,
                                   transport=wire, resume=tmp_path / "j",
                                   wait="accepted", exit_when_waiting=True)
    per_day: dict[str, int] = {}
    for b in store.batches:
        day_of = datetime.fromtimestamp(b.created, PT).date().isoformat()
        per_day[day_of] = per_day.get(day_of, 0) + b.size
    said = ("sent per day", per_day, "state", report["schedule"]["state"])
    assert sum(per_day.values()) == 8000, said

