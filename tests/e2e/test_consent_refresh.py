"""--max-consent-age during a run (issue 21): before a batch's first POST, RingCentral's
opt-outs read longer ago than the max age are read again, so a recipient who replies STOP to
another number of the account while a campaign runs is not texted under --suppress-scope
account; a re-read that finds nothing changed costs one request (a 304) and changes nothing;
a re-read that fails stops the run, and a resume finishes it.

The run's ``wall`` clock and the simulator's are one fake clock (real time plus an offset the
test advances), so the max age passes without waiting and the server's creation times still
agree with the engine's clock."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.core.rejections import OPTED_OUT
from engine.simulator import RunningSimulator, start_simulator
from engine.types import Report
from tests.conftest import sim_settings
from tests.e2e.conftest import SENDER, engine_settings, ledger_numbers

OTHER = "+16505550101"  # another sender of the account (tests/conftest.py sim_settings)
MAX_AGE = 15 * 60.0
PER_CHUNK = 50


class Wall:
    """The calendar clock of both the engine and the simulator: now plus what was advanced."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture
async def running(wall: Wall) -> AsyncIterator[RunningSimulator]:
    simulator = await start_simulator(sim_settings(messages_per_second=1e6), clock=wall)
    yield simulator
    await simulator.stop()


def write_list(tmp_path: Path, count: int) -> tuple[Path, list[str]]:
    items = [f"+1415555{i:04d}" for i in range(count)]
    path = tmp_path / "list.txt"
    path.write_text("".join(f"{n}\n" for n in items))
    return path, items


def after_second_chunk(act: Callable[[], None]) -> Callable[[int, float | None], None]:
    """An ``on_read`` that does ``act`` once the second chunk is cut, before it is sent: a
    chunk cut with the first read's opt-outs, POSTed after the max age has passed."""
    done = False

    def on_read(records: int, share: float | None) -> None:
        nonlocal done
        if records >= 2 * PER_CHUNK and not done:
            done = True
            act()

    return on_read


async def send(running: RunningSimulator, wall: Wall, recipients: Path, events: list[Any],
               **options: Any) -> Report:
    async def collect(event: dict[str, Any]) -> None:
        events.append(event)

    options = {"sender": SENDER, "text": "Hi", "max_batch_messages": PER_CHUNK,
               "concurrency": 1, "max_consent_age": MAX_AGE, "preflight": False, **options}
    return await engine.send(recipients, config=engine_settings(running.url),
                             credentials=DEMO_CREDENTIALS, on_event=collect, wall=wall,
                             **options)


def consent_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # the report's consent is the event's own fields: not its kind, time nor run id
    return [{k: v for k, v in e.items() if k not in ("event", "time", "runId")}
            for e in events if e["event"] == "consent"]


async def test_a_stop_to_another_sender_during_the_run_is_never_texted(
        running: RunningSimulator, wall: Wall, tmp_path: Path) -> None:
    """Past the max age, the opt-outs are read again before the next batch: two recipients
    who texted STOP to another number of the account after the first read (one in a chunk
    already cut, one further down the list) are never texted, each an LCL-OPTED-OUT rejection
    naming the consent record, counted alike by the report, the events and outcomes."""
    listing, items = write_list(tmp_path, 400)
    cut, later = items[PER_CHUNK + 10], items[-1]  # in the second chunk; read after the swap

    def stop_twice() -> None:
        for victim in (cut, later):
            running.simulator.store.consents.inbound(OTHER, victim, "STOP", wall())
        wall.advance(MAX_AGE + 1)

    journal, events = tmp_path / "run.journal", list[dict[str, Any]]()
    report = await send(running, wall, listing, events, journal=journal,
                        on_read=after_second_chunk(stop_twice))

    ledger = ledger_numbers(running)
    assert cut not in ledger
    assert later not in ledger
    assert sorted(ledger) == sorted(set(items) - {cut, later})  # everyone else once
    assert report["status"] == "completed"
    totals = report["totals"]
    assert (totals["records"], totals["sent"], totals["rejectedLocal"],
            totals["suppressed"]) == (400, 398, 2, {"consent": 2})
    opted = [r for r in report["rejected"] if r["errorCode"] == OPTED_OUT]
    assert [r["to"] for r in opted] == [cut, later]
    assert all(f"opted out of texts from {OTHER}" in r["description"] and
               "RingCentral consent record" in r["description"] for r in opted)
    reads = consent_events(events)
    assert [e["reads"] for e in reads] == [1, 2]
    assert reads[0]["inScope"] == 0
    assert reads[1]["inScope"] == 2
    assert reads[-1] == report["consent"]
    rejected = [e["to"] for e in events if e["event"] == "rejected"
                and e["errorCode"] == OPTED_OUT]
    assert sorted(rejected) == sorted([cut, later])
    summary = events[-1]
    assert summary["event"] == "summary"
    assert {k: summary[k] for k in ("records", "sent", "rejectedLocal", "suppressed")} == \
        {k: totals[k] for k in ("records", "sent", "rejectedLocal", "suppressed")}
    rows = [row async for row in engine.outcomes(journal, config=engine_settings(running.url),
                                                 credentials=DEMO_CREDENTIALS)]
    assert len(rows) == 400
    local = [(row.to, row.errorCode) for row in rows if row.outcome == "rejected-local"]
    assert local == [(cut, OPTED_OUT), (later, OPTED_OUT)]


async def test_an_unchanged_read_again_costs_one_request_and_changes_nothing(
        running: RunningSimulator, wall: Wall, tmp_path: Path) -> None:
    """The read again past the max age asks the export with If-None-Match: one Light
    request, a 304; nobody more is suppressed and everyone is texted once."""
    for k in range(1500):  # opt-outs of numbers not on the list: the export, with an ETag
        running.simulator.store.consents.set(OTHER, f"+1202555{k:04d}", "OptOut",
                                             "Recipient", wall())
    listing, items = write_list(tmp_path, 300)
    events: list[dict[str, Any]] = []
    report = await send(running, wall, listing, events, journal=tmp_path / "run.journal",
                        on_read=after_second_chunk(lambda: wall.advance(MAX_AGE + 1)))
    assert running.simulator.stats.get("304", 0) == 1
    first, again = consent_events(events)
    assert (again["method"], again["requests"], again["reads"]) == ("conditional-export", 1, 2)
    assert (again["optOuts"], again["inScope"], again["etag"]) == \
        (first["optOuts"], first["inScope"], first["etag"])
    assert sorted(ledger_numbers(running)) == sorted(items)
    assert report["status"] == "completed"
    assert report["totals"]["rejectedLocal"] == 0
    assert report["consent"] == again


async def test_a_failed_read_again_stops_the_run_and_a_resume_finishes_it(
        running: RunningSimulator, wall: Wall, tmp_path: Path) -> None:
    """A read again that is refused stops the run as a stop does: no batch is POSTed after
    it, the report is interrupted and says why and how to finish; the resume (the consent
    API back) sends the rest, everyone exactly once."""
    sim = running.simulator
    listing, items = write_list(tmp_path, 400)

    def refuse() -> None:
        sim.set_faults(replace(sim.faults, consent_refused=True))
        wall.advance(MAX_AGE + 1)

    journal, events = tmp_path / "run.journal", list[dict[str, Any]]()
    report = await send(running, wall, listing, events, journal=journal,
                        on_read=after_second_chunk(refuse))
    assert report["status"] == "interrupted"
    assert report["interrupted"]
    sent = ledger_numbers(running)
    assert len(sent) == report["totals"]["sent"] < len(items)
    assert len(set(sent)) == len(sent)
    why = [w for w in report["warnings"] if "could not be read again" in w]
    assert len(why) == 1
    assert f"a2p send --resume {journal}" in why[0]
    assert [e["message"] for e in events if e["event"] == "warning"
            and e["code"] == "consent"] == why
    assert [e["reads"] for e in events if e["event"] == "consent"] == [1]

    sim.set_faults(replace(sim.faults, consent_refused=False))
    resumed = await send(running, wall, listing, [], resume=journal)
    assert resumed["status"] == "completed"
    assert sorted(ledger_numbers(running)) == sorted(items)
    assert resumed["totals"]["sent"] == len(items)


async def test_max_age_zero_reads_before_every_batch(
        running: RunningSimulator, wall: Wall, tmp_path: Path) -> None:
    """--max-consent-age 0: the read before the first POST serves the first batch, and each
    later batch's first POST is preceded by a read of its own (one Light request each: the
    export, then a search page, as few opt-outs fit one)."""
    listing, items = write_list(tmp_path, 4 * PER_CHUNK)
    events: list[dict[str, Any]] = []
    report = await send(running, wall, listing, events, max_consent_age=0.0,
                        journal=tmp_path / "run.journal")
    reads = consent_events(events)
    assert [(e["reads"], e["method"], e["requests"]) for e in reads] == [
        (1, "export", 1), (2, "search", 1), (3, "search", 1), (4, "search", 1)]
    assert running.simulator.stats["consents_search"] == 3
    assert report["consent"] is not None
    assert report["consent"]["reads"] == 4
    assert sorted(ledger_numbers(running)) == sorted(items)


async def test_workers_wait_for_one_read(running: RunningSimulator, wall: Wall,
                                         tmp_path: Path) -> None:
    """Several workers past the max age at once: one reads, the others wait for its read
    and use it; the opt-outs are read twice in the whole run."""
    listing, items = write_list(tmp_path, 20 * PER_CHUNK)
    events: list[dict[str, Any]] = []
    report = await send(running, wall, listing, events, concurrency=4,
                        journal=tmp_path / "run.journal",
                        on_read=after_second_chunk(lambda: wall.advance(MAX_AGE + 1)))
    assert [e["reads"] for e in consent_events(events)] == [1, 2]
    assert running.simulator.stats["consents_search"] == 1
    assert report["consent"] is not None
    assert report["consent"]["reads"] == 2
    assert sorted(ledger_numbers(running)) == sorted(items)
