"""The daily cap and the carrier-cap halt of a scheduled send (issue 22 item 4), on a fake
clock against the simulator: a chunk caught in flight by a kill and resent on the next cap
day counts on that day, within its cap (the simulator's audit finds no day over it); carriers
failing messages over their daily cap (the simulator's ``carrier_cap_after``) halt the sending
for the rest of the Pacific day, inside the round, and the next day's round sends the rest."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio.lowlevel
import orjson

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.simulator import RunningSimulator, start_simulator
from engine.simulator.settings import FaultSettings
from engine.types import Report
from tests.conftest import sim_settings
from tests.e2e.conftest import SENDER, engine_settings, ledger_numbers
from tests.e2e.killing import cut_after_submitting

EASTERN = ZoneInfo("America/New_York")


class Clock:
    """The run's calendar and monotonic clock: one fake instant only a sleep moves."""

    def __init__(self, start: datetime) -> None:
        self.t = start.timestamp()

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()

    def options(self) -> dict[str, Any]:
        return {"credentials": DEMO_CREDENTIALS, "wall": lambda: self.t,
                "clock": lambda: self.t, "sleep": self.sleep, "max_batch_messages": 10,
                "concurrency": 1, "exit_when_waiting": True}


def write_list(path: Path, count: int) -> list[str]:
    numbers = [f"+1212{2000000 + i:07d}" for i in range(count)]
    path.write_text("to\n" + "\n".join(numbers) + "\n")
    return numbers


async def simulator(clock: Clock, **changes: Any) -> RunningSimulator:
    return await start_simulator(sim_settings(messages_per_second=1e6, failure_rate=0.0,
                                              **changes), clock=lambda: clock.t)


async def test_a_chunk_caught_in_flight_and_resent_the_next_day_keeps_that_day_in_its_cap(
        tmp_path: Path) -> None:
    """A kill with a chunk in flight on Friday (its POST never reached the server), the
    resume on Saturday, the next cap day: the chunk is resent on Saturday and counts there,
    with the new recipients read only up to what Saturday has left; no Pacific day carries
    more than the cap, and everyone is texted once."""
    clock = Clock(datetime(2026, 11, 20, 20, 30, tzinfo=EASTERN))
    listing, journal = tmp_path / "list.csv", tmp_path / "run.journal"
    numbers = write_list(listing, 40)
    first = await simulator(clock)
    try:
        report = await engine.send(listing, sender=SENDER, text="Hi", journal=journal,
                                   config=engine_settings(first.url), quiet_hours="tcpa",
                                   daily_cap=20, **clock.options())
        assert report["schedule"]["waitingFor"] == "daily-cap"
        friday = first.simulator.audit("tcpa", 20)
    finally:
        await first.stop()
    cut_after_submitting(journal)  # the kill
    # Saturday 09:00 Eastern, against a server that never got chunk 2
    clock.t = datetime(2026, 11, 21, 9, 0, tzinfo=EASTERN).timestamp()
    second = await simulator(clock, failure_seed=7)
    head, rest = journal.read_bytes().split(b"\n", 1)
    header = orjson.loads(head)
    header["server"] = second.url
    journal.write_bytes(orjson.dumps(header) + b"\n" + rest)
    try:
        saturday = await engine.send(None, config=engine_settings(second.url), resume=journal,
                                     **clock.options())
        assert saturday["schedule"]["waitingFor"] == "daily-cap"
        clock.t = datetime(2026, 11, 22, 9, 0, tzinfo=EASTERN).timestamp()  # Sunday
        sunday = await engine.send(None, config=engine_settings(second.url), resume=journal,
                                   **clock.options())
        later = second.simulator.audit("tcpa", 20)
        texted = ledger_numbers(second)
    finally:
        await second.stop()
    assert friday.per_cap_day == {"2026-11-20": 20}
    assert friday.clean
    assert later.per_cap_day == {"2026-11-21": 20, "2026-11-22": 10}
    assert later.clean, later.as_json()
    assert sunday["schedule"]["state"] == "done"
    # chunk 1 (the first ten) is on the first server; the rest once each on the second
    assert sorted(texted) == numbers[10:]


async def test_carrier_cap_failures_halt_the_day_inside_the_round_and_the_next_day_goes_on(
        tmp_path: Path) -> None:
    """Carriers failing messages SMS-CAR-450 past the simulator's cap of 25 a day: as the
    tracker reads the failing batch's statuses, the round POSTs nothing more (a warning says
    why, and the report), the run waits for 00:00 Pacific, and Saturday's round sends the
    rest; every recipient is texted once."""
    clock = Clock(datetime(2026, 11, 20, 9, 0, tzinfo=EASTERN))
    listing, journal = tmp_path / "list.csv", tmp_path / "run.journal"
    numbers = write_list(listing, 200)
    running = await simulator(clock, faults=FaultSettings(carrier_cap_after=25))
    events: list[dict[str, Any]] = []
    at_halt: list[int] = []

    async def on_event(event: dict[str, Any]) -> None:
        events.append(event)
        if event["event"] == "warning" and event["code"] == "carrier-cap" and not at_halt:
            at_halt.append(len(running.simulator.store.batches))

    try:
        friday = await engine.send(listing, sender=SENDER, text="Hi", journal=journal,
                                   config=engine_settings(running.url), quiet_hours="tcpa",
                                   wait="completed", on_event=on_event, **clock.options())
        on_friday = len(running.simulator.store.batches)
        assert friday["schedule"]["waitingFor"] == "carrier-cap"
        assert any("SMS-CAR-450/451/452" in w for w in friday["warnings"]), friday["warnings"]
        clock.t = datetime(2026, 11, 21, 9, 0, tzinfo=EASTERN).timestamp()
        running.simulator.set_faults(FaultSettings())  # Saturday: the carrier takes them
        saturday = await engine.send(None, config=engine_settings(running.url),
                                     resume=journal, on_event=on_event, **clock.options())
        texted = ledger_numbers(running)
    finally:
        await running.stop()
    assert at_halt, "the halt's warning came inside Friday's round"
    # no POST after the halt but the one already on the wire (concurrency 1)
    assert on_friday <= at_halt[0] + 1
    assert on_friday * 10 < len(numbers), "the halt left recipients for Saturday"
    assert saturday["schedule"]["state"] == "done"
    assert sorted(texted) == numbers
    assert max(Counter(texted).values()) == 1


LOW = "+16505550101"  # registered LowVolume in these tests: the tier's cap is 6,000 a day


async def low_volume_sender(tmp_path: Path, rows: int
                            ) -> tuple[Clock, Path, RunningSimulator]:
    """9:00 Eastern on the fake clock, a list of ``rows`` New Yorkers, and the simulator
    with LOW registered LowVolume."""
    clock = Clock(datetime(2026, 11, 20, 9, 0, tzinfo=EASTERN))
    listing = tmp_path / "list.csv"
    write_list(listing, rows)
    return clock, listing, await simulator(clock, registration_tiers=((LOW, "LowVolume"),))


class Warnings(list[tuple[str, str]]):
    """The warning events a run told, as (code, message): its on_event."""

    async def __call__(self, event: dict[str, Any]) -> None:
        if event["event"] == "warning":
            self.append((event["code"], event["message"]))


async def test_a_scheduled_send_takes_the_registration_tier_s_cap_unless_told_none(
        tmp_path: Path) -> None:
    """A new scheduled send given no --daily-cap from a LowVolume sender caps its days at
    6,000 (a warning says so, the journal's schedule keeps it); --daily-cap none sends with no
    cap; a sender whose tier sets none gets none. With --wait accepted and a cap, a warning
    says plainly that the carrier-cap halt cannot see failures."""
    clock, listing, running = await low_volume_sender(tmp_path, 5)
    low, warnings = LOW, Warnings()

    async def send(name: str, sender: str, **options: Any) -> Report:
        return await engine.send(listing, sender=sender, text="Hi",
                                 journal=tmp_path / f"{name}.journal",
                                 config=engine_settings(running.url), quiet_hours="tcpa",
                                 on_event=warnings, **clock.options(), **options)

    try:
        tiered = await send("tiered", low)
        assert tiered["schedule"]["dailyCap"] == 6000
        assert tiered["schedule"]["state"] == "done"
        assert any(code == "daily-cap" and "--daily-cap none" in text
                   for code, text in warnings), warnings
        header = orjson.loads((tmp_path / "tiered.journal").read_bytes().split(b"\n", 1)[0])
        assert header["schedule"]["dailyCap"] == 6000
        warnings.clear()
        assert (await send("none", low, daily_cap="none"))["schedule"]["dailyCap"] is None
        assert (await send("untiered", SENDER))["schedule"]["dailyCap"] is None
        assert not [code for code, _ in warnings if code == "daily-cap"]
        await send("blind", SENDER, daily_cap=10, wait="accepted")
    finally:
        await running.stop()
    blind = [text for code, text in warnings if code == "carrier-cap"]
    assert len(blind) == 1
    assert "use --wait completed or --wait delivered" in blind[0]


async def test_a_scheduled_send_from_a_low_volume_number_is_not_told_to_spread_its_list(
        tmp_path: Path) -> None:
    """7,000 recipients from a LowVolume number, scheduled with the tier's cap: the warning
    says the days are capped at 6,000, and the pre-flight does not also say carriers will
    hold or drop the rest (the send already spreads them); with --daily-cap 10000, above the
    tier's figure, or unscheduled, it does."""
    clock, listing, running = await low_volume_sender(tmp_path, 7000)
    warnings = Warnings()
    try:
        report = await engine.send(listing, sender=LOW, text="Hi",
                                   journal=tmp_path / "tiered.journal",
                                   config=engine_settings(running.url), quiet_hours="tcpa",
                                   on_event=warnings, **{**clock.options(),
                                                         "max_batch_messages": 1000})
        scheduled = list(warnings)
        warnings.clear()
        await engine.send(listing, sender=LOW, text="Hi", journal=tmp_path / "over.journal",
                          config=engine_settings(running.url), quiet_hours="tcpa",
                          daily_cap=10_000, on_event=warnings,
                          **{**clock.options(), "max_batch_messages": 1000})
        over_tier = list(warnings)
        warnings.clear()
        now = {k: v for k, v in clock.options().items() if k != "exit_when_waiting"}
        await engine.send(listing, sender=LOW, text="Hi", config=engine_settings(running.url),
                          on_event=warnings, **{**now, "max_batch_messages": 1000})
    finally:
        await running.stop()
    assert report["totals"]["sent"] == 6000
    assert [code for code, _ in scheduled if code == "daily-cap"] == ["daily-cap"]
    assert not [text for _, text in scheduled if "hold or drop" in text]
    # a cap above the tier's figure does not keep a day within it: the warning stays
    assert [code for code, text in over_tier if "hold or drop" in text] == ["preflight"]
    assert [code for code, text in warnings if "hold or drop" in text] == ["preflight"]
