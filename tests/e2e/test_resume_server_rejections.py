"""A run whose batches the server answers out of order, each rejecting some recipients,
stopped and resumed: the resume reads the journal's server rejections again from its file
(none held), and the report, the events and ``a2p outcomes`` tell each of them as a run never
stopped does."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import anyio
import orjson

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.results.export import Export
from engine.results.names import GROUPS
from engine.simulator.settings import FaultSettings
from engine.types import OutcomeFilter, Report
from tests.e2e.conftest import SENDER, Start
from tests.lists import any_country, scattered

ROWS = 400


def without_batch(rejected: Any) -> list[dict[str, Any]]:
    """The rejections less their batch ids (another run's batches have other ids)."""
    return [{k: v for k, v in r.items() if k != "batchId"} for r in rejected]


async def run(listing: Path, journal: Path, settings: engine.Settings, *, stop_after: int = 0,
              resume: bool = False) -> tuple[Report, list[dict[str, Any]]]:
    """One send (stopped once ``stop_after`` batches were answered); its report and events."""
    stop, events = anyio.Event(), list[dict[str, Any]]()

    async def on_event(event: dict[str, Any]) -> None:
        events.append(event)
        if stop_after and sum(e["event"] == "chunk_submitted" for e in events) >= stop_after:
            stop.set()

    options: dict[str, Any] = {"config": settings, "credentials": DEMO_CREDENTIALS,
                               "on_event": on_event, "stop": stop, "concurrency": 4,
                               "preflight": False, "wait": "completed"}
    if resume:
        report = await engine.send(resume=journal, **options)
    else:
        report = await engine.send(listing, sender=SENDER, text="Hi", read=any_country(),
                                   max_batch_bytes=900, journal=journal, **options)
    return report, events


def answered_out_of_order(journal: Path) -> bool:
    """Whether the journal shows a batch answered before one cut earlier."""
    answered = [e["chunk"] for e in map(orjson.loads, journal.read_bytes().splitlines())
                if e["type"] == "state" and e.get("status") == "accepted"]
    return answered != sorted(answered)


async def outcomes(journal: Path, settings: engine.Settings, *only: OutcomeFilter
                   ) -> tuple[list[Any], dict[str, Any]]:
    async with Export(journal, config=settings, credentials=DEMO_CREDENTIALS,
                      only=only) as export:
        rows = [row async for row in export.rows()]
    return rows, export.totals.as_json()


async def test_a_resumed_run_tells_server_rejections_as_a_run_never_stopped(
        tmp_path: Path, start: Start) -> None:
    """Batches answered out of order, several rejecting recipients, a stop and a resume:
    the resumed report's rejections and counts are the unstopped run's, each server
    rejection was told once as an event, and outcomes (all, --only rejected-server, --only
    failed) give each its row as the report says."""
    numbers, local, server = scattered(ROWS, random.Random(5), bad=0.08)
    listing = tmp_path / "list.csv"
    listing.write_text("to\n" + "".join(f"{n}\n" for n in numbers))
    whole: Report | None = None
    resumed: Report | None = None
    events: list[dict[str, Any]] = []
    journal = tmp_path / "stopped.journal"
    for seed in range(6):  # the order answers come in is the jitter's: bounded tries
        _, settings = await start(faults=FaultSettings(seed=seed, latency_jitter=0.05))
        whole, _ = await run(listing, tmp_path / f"whole-{seed}.journal", settings)
        journal = tmp_path / f"stopped-{seed}.journal"
        first, events = await run(listing, journal, settings, stop_after=3)
        assert first["status"] == "interrupted"
        resumed, more = await run(listing, journal, settings, resume=True)
        events += more
        if answered_out_of_order(journal):
            break
    assert answered_out_of_order(journal)  # the case arose
    assert resumed is not None
    assert whole is not None
    assert resumed["status"] == whole["status"] == "completed"
    served = [r for r in resumed["rejected"] if r["source"] == "server"]
    assert sorted(r["index"] for r in served) == sorted(server)
    assert len({r["batchId"] for r in served}) >= 3  # in several chunks
    assert without_batch(resumed["rejected"]) == without_batch(whole["rejected"])
    for key in ("records", "sent", "rejectedLocal", "rejectedServer", "pending"):
        assert resumed["totals"][key] == whole["totals"][key], key
    told = [e for e in events if e["event"] == "rejected" and e["source"] == "server"]
    assert sorted((e["index"], e["batchId"]) for e in told) == \
        [(r["index"], r["batchId"]) for r in served]

    rows, totals = await outcomes(journal, settings)
    refused = [(row.position, row.line, row.to, row.errorCode, row.description, row.batchId)
               for row in rows if row.outcome == "rejected-server"]
    assert refused == [(r["index"], r["line"], r["to"], r["errorCode"], r["description"],
                        r["batchId"]) for r in served]
    assert totals["rejected-server"] == resumed["totals"]["rejectedServer"]
    assert totals["rejected-local"] == resumed["totals"]["rejectedLocal"] == len(local)
    only, only_totals = await outcomes(journal, settings, "rejected-server")
    assert only == [row for row in rows if row.outcome == "rejected-server"]
    assert only_totals == totals
    failed, _ = await outcomes(journal, settings, "failed")
    assert failed == [row for row in rows if row.outcome in GROUPS["failed"]]
