"""``engine.outcomes`` against the simulator: one row per input record, each the simulator's
truth for that recipient as of the moment the store was read."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine.simulator import start_simulator
from engine.simulator.settings import DEMO_CREDENTIALS, ReceiptSettings
from engine.simulator.store import Store
from tests.conftest import FakeClock, sim_settings
from tests.e2e.conftest import SENDER, engine_settings

KINDS = ("ok", "ok", "ok", "again", "local", "server")
STATUS_OUTCOME = {"Delivered": "delivered", "DeliveryFailed": "delivery-failed",
                  "SendingFailed": "sending-failed", "Sent": "sent-no-receipt",
                  "Queued": "queued"}


def make_list(kinds: list[str]) -> list[str]:
    """Numbers by kind: fresh valid, a repeat of an earlier valid one (so a chunk can hold a
    number twice), malformed (rejected locally), non-North-American (rejected by the server)."""
    numbers: list[str] = []
    valid: list[str] = []
    for i, kind in enumerate(kinds):
        if kind == "again" and valid:
            numbers.append(valid[i % len(valid)])
        elif kind == "local":
            numbers.append(f"555-{i:05d}")
        elif kind == "server":
            numbers.append(f"+4420{i:08d}")
        else:
            valid.append(f"+1415{2_000_000 + i:07d}")
            numbers.append(valid[-1])
    return numbers


def truth(report: dict[str, Any], store: Store, now: float) -> dict[int, str]:
    """Each input position's outcome by the simulator's own state: the j-th accepted message
    of a batch is the j-th record of its chunk that neither side rejected."""
    rejected = {r["index"]: r["source"] for r in report["rejected"]}
    expected = {i: f"rejected-{source}" for i, source in rejected.items()}
    for batch_entry in report["batches"]:
        if batch_entry["batchId"] is None:
            continue
        batch = store.batch(batch_entry["batchId"])
        assert batch is not None
        processed = batch.processed(now)
        sent = [i for i in range(batch_entry["firstIndex"], batch_entry["lastIndex"] + 1)
                if i not in rejected]
        assert len(sent) == batch.size
        for j, position in enumerate(sent):
            expected[position] = STATUS_OUTCOME[batch.fate(j, now, processed)[0]]
    return expected


async def scenario(tmp: Path, kinds: list[str], failure_rate: float, silent: float,
                   max_bytes: int, later: float, seed: int) -> None:
    clock = FakeClock()
    receipts = ReceiptSettings(seed=seed, delay_median=2.0, delay_sigma=1.0,
                               no_receipt_rate=silent)
    running = await start_simulator(sim_settings(failure_rate=failure_rate, failure_seed=seed,
                                                 receipts=receipts, messages_per_second=50.0),
                                    clock=clock)
    try:
        settings = engine_settings(running.url)
        path = tmp / f"list-{seed}.csv"
        path.write_text("to\n" + "".join(f"{n}\n" for n in make_list(kinds)))
        journal = tmp / f"run-{seed}.journal"
        journal.unlink(missing_ok=True)
        report = await engine.send(path, sender=SENDER, text="Hi", config=settings,
                                   credentials=DEMO_CREDENTIALS, max_batch_bytes=max_bytes,
                                   wait="accepted", journal=journal)
        clock.advance(later)  # some processed, some receipts in, some not
        rows = [row async for row in engine.outcomes(journal, config=settings,
                                                     credentials=DEMO_CREDENTIALS)]
        expected = truth(report, running.simulator.store, clock.now)
    finally:
        await running.stop()
    assert [row.position for row in rows] == list(range(len(kinds)))
    assert {row.position: row.outcome for row in rows} == expected
    assert [row.line for row in rows] == list(range(2, len(kinds) + 2))


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=250),
       failure_rate=st.floats(0.0, 0.6), silent=st.floats(0.0, 0.3),
       max_bytes=st.integers(300, 3000), later=st.floats(0.0, 12.0),
       seed=st.integers(0, 1000))
def test_every_record_gets_one_row_equal_to_the_simulators_truth(
        tmp_path: Path, kinds: list[str], failure_rate: float, silent: float, max_bytes: int,
        later: float, seed: int) -> None:
    """For random lists, server rejections and receipts, every input record gets exactly one
    row, in input order, and its outcome is what the simulator holds for that recipient."""
    asyncio.run(scenario(tmp_path, kinds, failure_rate, silent, max_bytes, later, seed))

