"""A resume reads RingCentral's opt-outs again whatever --max-consent-age says (a STOP may
have come while the run was stopped): with If-None-Match on the export when the last read
was the export, a 304 when nothing changed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.core.rejections import OPTED_OUT
from tests.e2e.conftest import SENDER, Start, ledger_numbers

OTHER = "+16505550101"  # another sender of the account (tests/conftest.py sim_settings)


def numbers(n: int) -> list[str]:
    return [f"+1415555{i:04d}" for i in range(n)]


async def stopped_run(running: Any, settings: engine.Settings, items: list[str],
                      journal: Path) -> set[str]:
    """A run with the default --max-consent-age, stopped after its first batch: the numbers
    it texted."""
    stop = anyio.Event()

    async def stop_after_first(event: dict[str, Any]) -> None:
        if event["event"] == "batch_completed":
            stop.set()

    first = await engine.send(items, sender=SENDER, text="Hi", config=settings,
                              credentials=DEMO_CREDENTIALS, on_event=stop_after_first,
                              max_batch_messages=50, concurrency=1, journal=journal,
                              stop=stop)
    assert first["status"] == "interrupted"
    return set(ledger_numbers(running))


@pytest.mark.parametrize("elsewhere", [0, 1500])  # the search; the export with its ETag
async def test_resume_within_max_age_suppresses_a_stop_during_the_stop(
        start: Start, tmp_path: Path, elsewhere: int) -> None:
    """A STOP to another number of the account while the run was stopped: the resume, with
    the default options (well within --max-consent-age), never texts that recipient and
    counts it suppressed."""
    running, settings = await start()
    for k in range(elsewhere):  # opt-outs of numbers not on the list
        running.simulator.store.consents.set(OTHER, f"+1202555{k:04d}", "OptOut",
                                             "Recipient", time.time())
    items = numbers(400)
    journal = tmp_path / "run.journal"
    sent_first = await stopped_run(running, settings, items, journal)
    victim = next(n for n in reversed(items) if n not in sent_first)
    running.simulator.store.consents.inbound(OTHER, victim, "STOP", time.time())
    report = await engine.send(items, config=settings, credentials=DEMO_CREDENTIALS,
                               resume=journal)
    ledger = ledger_numbers(running)
    assert victim not in ledger
    assert sorted(ledger) == sorted(set(items) - {victim})
    assert report["totals"]["suppressed"] == {"consent": 1}
    assert [r["to"] for r in report["rejected"] if r["errorCode"] == OPTED_OUT] == [victim]


async def test_resume_with_nothing_changed_costs_a_304(start: Start, tmp_path: Path) -> None:
    """A resume after an export read asks it again with If-None-Match: one 304, nothing
    suppressed that was not before."""
    running, settings = await start()
    for k in range(1500):
        running.simulator.store.consents.set(OTHER, f"+1202555{k:04d}", "OptOut",
                                             "Recipient", time.time())
    items = numbers(300)
    journal = tmp_path / "run.journal"
    await stopped_run(running, settings, items, journal)
    assert running.simulator.stats.get("304", 0) == 0
    report = await engine.send(items, config=settings, credentials=DEMO_CREDENTIALS,
                               resume=journal)
    assert running.simulator.stats.get("304", 0) == 1
    assert sorted(ledger_numbers(running)) == sorted(items)
    assert report["status"] == "completed"
