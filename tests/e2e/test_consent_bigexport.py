"""An account's consent export larger than an answer may hold in memory is read through a
file, a line at a time: the run starts and suppresses every opt-out (review of issue 21,
finding 2: past 16 MiB, some 195,000 records, no run could start)."""

from __future__ import annotations

import time
from pathlib import Path

import anyio

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.rc.client import ApiClient
from engine.rc.transport import AiohttpTransport
from engine.run.consent import read_consents
from tests.e2e.conftest import SENDER, Start, ledger_numbers

SMALL = 64 * 1024  # the answer cap, lowered so 3,000 records outgrow it as 195,000 do 16 MiB


async def test_export_past_the_answer_cap_is_read(start: Start, tmp_path: Path) -> None:
    """3,000 opt-outs (about 250 KB of CSV) past a 64 KiB answer cap: all are read."""
    running, settings = await start()
    now = time.time()
    for k in range(3000):
        running.simulator.store.consents.set(SENDER, f"+1212555{k:04d}", "OptOut", "Recipient",
                                             now)
    transport = AiohttpTransport(30.0, max_answer=SMALL)
    client = ApiClient(settings, DEMO_CREDENTIALS, transport, clock=time.monotonic,
                       sleep=anyio.sleep)
    try:
        read = await read_consents(client, SENDER, "account", 900.0, tmp_path / "j.consents",
                                   time.time)
    finally:
        await transport.close()
    assert read.opt_outs == 3000
    assert len(read.set) == 3000


async def test_send_suppresses_opt_outs_of_a_large_export(start: Start, tmp_path: Path
                                                          ) -> None:
    """A send whose export outgrows the answer cap still runs, and texts no opted-out
    recipient."""
    running, settings = await start()
    now = time.time()
    items = [f"+1212555{k:04d}" for k in range(3000, 3400)]
    stopped = set(items[::7])
    for k in range(3000):
        running.simulator.store.consents.set(SENDER, f"+1212555{k:04d}", "OptOut", "Recipient",
                                             now)
    for to in stopped:
        running.simulator.store.consents.set(SENDER, to, "OptOut", "Recipient", now)
    transport = AiohttpTransport(30.0, max_answer=SMALL)
    try:
        report = await engine.send(items, sender=SENDER, text="Hi", config=settings,
                                   credentials=DEMO_CREDENTIALS, max_batch_messages=100,
                                   journal=tmp_path / "run.journal", transport=transport)
    finally:
        await transport.close()
    ledger = ledger_numbers(running)
    assert report["status"] == "completed"
    assert sorted(ledger) == sorted(set(items) - stopped)
    assert report["totals"]["suppressed"] == {"consent": len(stopped)}
