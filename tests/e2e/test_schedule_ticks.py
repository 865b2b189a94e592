"""A scheduled send's rounds stay cheap and cron-friendly (issue 22): a cron tick with
nothing due makes no request and reads no input; a round reads the input once for itself and
once for what is left, not three times; the run sleeps without the journal's lock, so
`a2p outcomes` and a cron tick work meanwhile, and a run that wakes to find a tick continuing
it ends (exit 75); a tick refused by the lock exits 75, not 2."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

import engine
import engine.run.api
import engine.run.idleround
import engine.run.journal
import engine.run.onerun
import engine.run.sources
from engine.config.credentials import DEMO_CREDENTIALS
from engine.errors import JournalBusyError, JournalError, JournalTakenError
from engine.run.journallock import JournalLock
from engine.run.roundsleep import READER_TRIES, READER_WAIT
from engine.simulator import RunningSimulator
from engine.types import Report
from tests.e2e.conftest import SENDER, ledger_numbers
from tests.e2e.test_cli_exit_codes import a2p, server, sim_env
from tests.e2e.test_cli_exit_codes import send as cli_send
from tests.e2e.test_schedule_rounds import (
    START,
    FakeTime,
    Start,
    Watch,
    inside,
    national_list,
    opening,
    send,
    start,
)

__all__ = ["server", "start"]  # fixtures


def requests(running: RunningSimulator) -> int:
    """Every /restapi/ request the simulator answered (token, consents, batches...)."""
    return sum(n for code, n in running.simulator.stats.items() if code.isdigit())


class Passes:
    """Counts, by wrapping: passes over the input (each read of the file from its start or
    an offset), reads of the journal, and rounds run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.inputs = self.journals = self.rounds = 0
        read_file_from = engine.run.sources.read_file_from
        read_journal = engine.run.journal.read_journal
        run_round = engine.run.onerun.send_once

        def counted_file(*args: Any, **kwargs: Any) -> Any:
            self.inputs += 1
            return read_file_from(*args, **kwargs)

        def counted_journal(*args: Any, **kwargs: Any) -> Any:
            self.journals += 1
            return read_journal(*args, **kwargs)

        async def counted_round(*args: Any, **kwargs: Any) -> Any:
            self.rounds += 1
            return await run_round(*args, **kwargs)

        monkeypatch.setattr(engine.run.sources, "read_file_from", counted_file)
        for module in (engine.run.journal, engine.run.onerun, engine.run.idleround):
            monkeypatch.setattr(module, "read_journal", counted_journal)
        monkeypatch.setattr(engine.run.api, "send_once", counted_round)


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> Passes:
    return Passes(monkeypatch)


async def test_a_cron_tick_with_nothing_due_makes_no_request_and_reads_no_input(
        start: Start, tmp_path: Path, passes: Passes) -> None:
    """At 05:00 Eastern nobody's window is open: a cron tick (--resume, exit when waiting)
    runs no round: no request (no login, no opt-out read), no pass over the input; it says
    waiting, everyone deferred, and writes the report so."""
    time, running, settings, zones, watch = await opening(start, tmp_path, national_list)
    journal, report_path = tmp_path / "run.journal", tmp_path / "report.json"
    first = await send(tmp_path / "list.csv", settings, time, watch, journal=journal,
                       report=report_path, quiet_hours="tcpa", exit_when_waiting=True)
    assert first["schedule"]["state"] == "waiting"
    made, inputs, rounds = requests(running), passes.inputs, passes.rounds
    report_path.unlink()
    time.t += 30 * 60  # the next tick, 05:30 Eastern: still nobody
    tick = await send(None, settings, time, watch, resume=journal, exit_when_waiting=True)
    assert requests(running) == made  # nothing asked of the server
    assert passes.inputs == inputs  # nor of the input
    assert passes.rounds == rounds
    assert tick["schedule"]["state"] == "waiting"
    assert tick["schedule"]["waitingFor"] == "quiet-hours"
    assert tick["totals"]["deferred"] == len(zones)
    assert tick["totals"]["sent"] == 0
    assert report_path.exists()  # written again, with the schedule as it stands
    assert len(watch.kinds("summary")) == 2  # one per call, the tick's last
    assert watch.events[-1]["event"] == "summary"
    assert ledger_numbers(running) == []


async def test_a_round_reads_the_input_twice_and_the_journal_a_few_times(
        start: Start, tmp_path: Path, passes: Passes) -> None:
    """A national list in rounds (tcpa from 05:00 Eastern): each round's survey before is
    the survey after the one before (the journal unchanged), so a round reads the input
    twice (its own pass and the count of what is left; three times before) and the journal
three times (five before), and everyone is sent once."""
    time, running, settings, zones, watch = await opening(start, tmp_path, national_list)
    report = await send(tmp_path / "list.csv", settings, time, watch,
                        journal=tmp_path / "run.journal", quiet_hours="tcpa")
    assert report["schedule"]["state"] == "done"
    assert Counter(ledger_numbers(running)) == Counter(list(zones))
    rounds = passes.rounds
    assert rounds >= 3
    # the first round's survey before has no journal to remember it by: one pass more
    assert passes.inputs <= 2 * rounds + 1, (passes.inputs, rounds)
    assert passes.journals <= 3 * rounds, (passes.journals, rounds)


def sleeper(time: FakeTime, during: Callable[[], Any]) -> Callable[[float], Any]:
    """The run's sleep: a round's wait (over a minute) runs ``during`` first (another
    command on the journal while the run sleeps), then moves the fake clock on."""

    async def sleep(seconds: float) -> None:
        if seconds > 60:
            await during()
        await time.sleep(seconds)

    return sleep


async def test_outcomes_reads_the_journal_while_the_run_sleeps(
        start: Start, tmp_path: Path) -> None:
    """While the run sleeps until the next window, `a2p outcomes` on its journal is not
    refused: it lists every recipient (sent or deferred); the run then finishes, nobody
    twice."""
    time, running, settings, zones, watch = await opening(start, tmp_path, national_list)
    journal = tmp_path / "run.journal"
    seen: list[Counter[str]] = []

    async def outcomes() -> None:
        rows = [row async for row in engine.outcomes(journal, config=settings,
                                                     credentials=DEMO_CREDENTIALS)]
        assert len(rows) == len(zones)
        seen.append(Counter(row.outcome for row in rows))

    report = await engine.send(tmp_path / "list.csv", sender=SENDER, text="Hi",
                               config=settings, credentials=DEMO_CREDENTIALS,
                               wall=time.wall, clock=time.clock,
                               sleep=sleeper(time, outcomes), on_event=watch.on_event,
                               journal=journal, quiet_hours="tcpa")
    assert report["schedule"]["state"] == "done"
    assert len(seen) >= 2
    assert seen[0]["not-sent"] == len(zones)  # 05:00 Eastern: nobody yet
    assert any(0 < c["not-sent"] < len(zones) for c in seen)  # between two windows
    assert Counter(ledger_numbers(running)) == Counter(list(zones))


async def test_a_cron_tick_during_the_sleep_sends_and_the_sleeper_goes_on(
        start: Start, tmp_path: Path) -> None:
    """While the run sleeps, a cron tick at the next opening takes the journal and sends
    that round; the run wakes, takes the lock again, and goes on from the journal: everyone
    exactly once, each inside their window."""
    time, running, settings, zones, watch = await opening(start, tmp_path, national_list)
    journal = tmp_path / "run.journal"
    ticks: list[Report] = []

    async def tick() -> None:
        if ticks or not watch.kinds("waiting"):
            return
        wake = watch.kinds("waiting")[-1]["until"]
        time.t = datetime.fromisoformat(wake).timestamp()
        ticks.append(await send(None, settings, time, watch, resume=journal,
                                exit_when_waiting=True))
        time.t -= 1  # the sleeper's own sleep then moves the clock to its wake again

    report = await engine.send(tmp_path / "list.csv", sender=SENDER, text="Hi",
                               config=settings, credentials=DEMO_CREDENTIALS, wall=time.wall,
                               clock=time.clock, sleep=sleeper(time, tick),
                               on_event=watch.on_event, journal=journal, quiet_hours="tcpa")
    assert ticks
    assert ticks[0]["totals"]["sent"] > 0  # the tick sent a round
    assert report["schedule"]["state"] == "done"
    assert Counter(ledger_numbers(running)) == Counter(list(zones))
    assert not [(n, t) for n, t in watch.sent if not inside(zones[n], t)]


async def test_a_run_that_wakes_to_a_tick_holding_the_journal_ends(
        start: Start, tmp_path: Path) -> None:
    """A run whose journal another process holds when it wakes (a cron tick continuing the
    run) ends with JournalTakenError (exit 75), sending nothing more."""
    time = FakeTime(START)
    running, settings = await start(time)
    national_list(tmp_path / "list.csv")
    watch = Watch(running, time)
    journal = tmp_path / "run.journal"
    held: list[JournalLock] = []

    async def take() -> None:
        if not held:
            held.append(JournalLock(journal, "a2p send --resume (cron)", create=False))
            held[0].acquire()

    try:
        with pytest.raises(JournalTakenError, match="took the journal and continues"):
            await engine.send(tmp_path / "list.csv", sender=SENDER, text="Hi",
                              config=settings, credentials=DEMO_CREDENTIALS, wall=time.wall,
                              clock=time.clock, sleep=sleeper(time, take),
                              on_event=watch.on_event, journal=journal, quiet_hours="tcpa")
    finally:
        for lock in held:
            lock.release()
    assert ledger_numbers(running) == []  # it slept from 05:00 Eastern, and ended at wake
    assert watch.events[-1]["event"] == "summary"


class Reader:
    """`a2p outcomes` as the run's sleep sees it: takes the journal's lock (as Export does)
    in the run's long sleep and holds it across the wake, for ``tries`` of the run's
    retries (None: for good)."""

    def __init__(self, time: FakeTime, journal: Path, tries: int | None) -> None:
        self.time, self.journal, self.tries = time, journal, tries
        self.lock: JournalLock | None = None
        self.retries = 0  # the run's waits for it

    async def sleep(self, seconds: float) -> None:
        if seconds > 60 and self.lock is None:
            self.lock = JournalLock(self.journal, "a2p outcomes", readonly=True)
            self.lock.acquire()
        elif self.lock is not None and seconds == READER_WAIT:
            self.retries += 1
            if self.retries == self.tries:
                self.lock.release()
        await self.time.sleep(seconds)

    def close(self) -> None:
        if self.lock is not None:
            self.lock.release()


async def test_a_run_that_wakes_to_outcomes_holding_the_journal_waits_and_goes_on(
        start: Start, tmp_path: Path) -> None:
    """`a2p outcomes` holding the journal at the run's wake does not end the campaign: the
    run tries again (through its own sleep) until the reader lets go, then sends the next
    waves: everyone once, inside their windows."""
    time, running, settings, zones, watch = await opening(start, tmp_path, national_list)
    journal = tmp_path / "run.journal"
    reader = Reader(time, journal, tries=3)
    try:
        report = await engine.send(tmp_path / "list.csv", sender=SENDER, text="Hi",
                                   config=settings, credentials=DEMO_CREDENTIALS,
                                   wall=time.wall, clock=time.clock, sleep=reader.sleep,
                                   on_event=watch.on_event, journal=journal,
                                   quiet_hours="tcpa")
    finally:
        reader.close()
    assert reader.retries == 3  # it waited for the reader, and no longer
    assert report["schedule"]["state"] == "done"
    assert Counter(ledger_numbers(running)) == Counter(list(zones))
    assert not [(n, t) for n, t in watch.sent if not inside(zones[n], t)]


async def test_a_reader_that_never_lets_go_ends_the_run_busy_not_taken(
        start: Start, tmp_path: Path) -> None:
    """A reader holding the journal past the run's bounded wait ends the run with a
    JournalBusyError naming it, not the JournalTakenError that says another process
    continues the run; nothing was sent."""
    time = FakeTime(START)
    running, settings = await start(time)
    national_list(tmp_path / "list.csv")
    journal = tmp_path / "run.journal"
    reader = Reader(time, journal, tries=None)
    try:
        with pytest.raises(JournalBusyError, match="a2p outcomes") as busy:
            await engine.send(tmp_path / "list.csv", sender=SENDER, text="Hi",
                              config=settings, credentials=DEMO_CREDENTIALS, wall=time.wall,
                              clock=time.clock, sleep=reader.sleep, journal=journal,
                              quiet_hours="tcpa")
    finally:
        reader.close()
    assert not isinstance(busy.value, JournalTakenError)
    assert "continues the run" not in str(busy.value)
    assert reader.retries == READER_TRIES
    assert ledger_numbers(running) == []


def test_a_cron_tick_refused_by_the_lock_exits_75(tmp_path: Path,
                                                  server: RunningSimulator) -> None:
    """A cron tick (--resume J --exit-when-waiting) while another process holds the journal
    exits 75 (try again later) naming the holder; without --exit-when-waiting it is 2."""
    at = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%MZ")
    first = a2p(cli_send(tmp_path, "--quiet-hours", "tcpa", "--at", at, "--exit-when-waiting"),
                env=sim_env(server))
    assert first.returncode == 75, first.stderr
    journal = tmp_path / "r.json.journal"
    with JournalLock(journal, "a2p send --resume (the run going on)", create=False):
        tick = a2p(["send", "--resume", str(journal), "--exit-when-waiting"],
                   env=sim_env(server))
        plain = a2p(["send", "--resume", str(journal)], env=sim_env(server))
    assert tick.returncode == 75, tick.stderr
    assert "the run going on" in tick.stderr
    assert "try again later" in tick.stderr
    assert plain.returncode == 2, plain.stderr


async def test_a_cron_tick_with_nothing_due_still_refuses_a_changed_list(
        start: Start, tmp_path: Path) -> None:
    """A tick that runs no round still checks the list is the run's (size, time, head):
    changed, it is refused as a round would be, not left waiting until the window opens."""
    time = FakeTime(START)
    running, settings = await start(time)
    national_list(tmp_path / "list.csv")
    watch = Watch(running, time)
    journal = tmp_path / "run.journal"
    await send(tmp_path / "list.csv", settings, time, watch, journal=journal,
               quiet_hours="tcpa", exit_when_waiting=True)
    with (tmp_path / "list.csv").open("a") as handle:
        handle.write("+12125550199\n")
    with pytest.raises(JournalError, match="changed since the journal was written"):
        await send(None, settings, time, watch, resume=journal, exit_when_waiting=True)
    assert ledger_numbers(running) == []


@pytest.mark.parametrize("ending", ["done", "expired"])
async def test_ticks_after_a_run_is_done_or_expired_make_no_request(
        start: Start, tmp_path: Path, passes: Passes, ending: str) -> None:
    """Once a run is done (everyone sent) or expired, each later cron tick runs no round: no
    request (no login, no opt-out read), no pass over the input beyond one count; it writes
    the report with the same state, and the run tells ``expired`` once in all."""
    time = FakeTime(START.replace(hour=12) if ending == "done" else START)
    running, settings = await start(time)
    listed = tmp_path / "list.csv"
    listed.write_text("to\n" + "".join(f"+1212555{i:04d}\n" for i in range(30)))
    watch = Watch(running, time)
    journal, report_path = tmp_path / "run.journal", tmp_path / "r.json"
    expire = {"expire_at": "2026-11-20T06:00-05:00"} if ending == "expired" else {}
    first = await send(listed, settings, time, watch, journal=journal, report=report_path,
                       quiet_hours="tcpa", exit_when_waiting=True, **expire)
    assert first["totals"]["sent"] == (30 if ending == "done" else 0)
    time.t += 2 * 3600  # past --expire-at: the first tick finds the run expired
    states, inputs = [], []
    for _ in range(3):
        time.t += 300
        made, read, rounds = requests(running), passes.inputs, passes.rounds
        report_path.unlink()
        tick = await send(None, settings, time, watch, resume=journal, report=report_path,
                          exit_when_waiting=True)
        assert requests(running) == made  # nothing asked of the server
        assert passes.rounds == rounds
        inputs.append(passes.inputs - read)
        states.append(tick["schedule"]["state"])
        assert orjson.loads(report_path.read_bytes())["schedule"]["state"] == ending
    assert states == [ending] * 3
    # not a round's two passes a tick: the expiry's note in the journal costs one count, once
    assert sum(inputs) == (0 if ending == "done" else 1)
    assert len(ledger_numbers(running)) == (30 if ending == "done" else 0)
    assert [e["count"] for e in watch.kinds("expired")] == ([30] if ending == "expired"
                                                            else [])
    assert watch.events[-1]["event"] == "summary"
