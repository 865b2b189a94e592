"""``engine.outcomes`` against the simulator: one row per input record, each the simulator's
truth for that recipient as of the moment the store was read."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.errors import JournalError
from engine.rc.errorcodes import OPT_OUT_CODES
from engine.results.export import Checkpoint, Export
from engine.results.names import OUTCOMES
from engine.results.output import OutputFile
from engine.simulator import start_simulator
from engine.simulator.settings import ReceiptSettings
from engine.simulator.store import Store
from engine.types import Report
from tests.conftest import FakeClock, sim_settings
from tests.e2e.conftest import SENDER, Start, engine_settings
from tests.lists import any_country

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


def truth(report: Report, store: Store, now: float) -> dict[int, str]:
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
            status, code = batch.fate(j, now, processed)
            expected[position] = "opted-out" if code in OPT_OUT_CODES else STATUS_OUTCOME[status]
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
                                   read=any_country(),
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


def test_a_run_that_sends_nothing_still_accounts_for_every_row(tmp_path: Path) -> None:
    """Every record rejected locally: no batch is sent, yet the run leaves its journal and
    the export gives each record its rejected-local row."""
    asyncio.run(scenario(tmp_path, ["local", "local", "local"], 0.0, 0.0, 300, 0.0, 0))



async def sent_run(start: Start, tmp: Path, n: int, max_bytes: int = 2000, **sim: Any
                   ) -> tuple[engine.Settings, Path, Report]:
    _, settings = await start(**sim)
    path = tmp / "list.csv"
    path.write_text("to\n" + "".join(f"{x}\n" for x in make_list(["ok", "local", "ok"] * n)))
    journal = tmp / "run.journal"
    report = await engine.send(path, sender=SENDER, text="Hi", config=settings,
                                   read=any_country(),
                               credentials=DEMO_CREDENTIALS, max_batch_bytes=max_bytes,
                               journal=journal)
    return settings, journal, report


async def test_wait_delivered_reads_receipts_until_none_is_pending(
        start: Start, tmp_path: Path) -> None:
    """--wait delivered polls each completed batch's statuses until no message is Queued or
    Sent; the report carries every count and when it was read."""
    receipts = ReceiptSettings(seed=1, delay_median=0.2, delay_sigma=0.3)
    _, settings = await start(receipts=receipts, failure_rate=0.1)
    events: list[dict[str, Any]] = []

    async def collect(event: dict[str, Any]) -> None:
        events.append(event)

    items = make_list(["ok"] * 300)
    report = await engine.send(items, sender=SENDER, text="Hi", config=settings,
                                   read=any_country(),
                               credentials=DEMO_CREDENTIALS, max_batch_bytes=3000,
                               wait="delivered", delivery_timeout=30, on_event=collect)
    statuses = report["totals"]["statuses"]
    assert (statuses["queued"], statuses["sent"]) == (0, 0)
    assert statuses["delivered"] + statuses["deliveryFailed"] + statuses["sendingFailed"] == 300
    failed = statuses["deliveryFailed"] + statuses["sendingFailed"]
    assert sum(statuses["errorCodeCounts"].values()) == failed > 0
    assert statuses["cost"] == report["totals"]["cost"]
    assert all(b["countsReadAt"] and b["sent"] == 0 for b in report["batches"])
    delivered = {e["batchId"] for e in events if e["event"] == "batch_delivered"}
    assert delivered == {b["batchId"] for b in report["batches"]}
    assert report["status"] == "completed"


async def test_delivery_timeout_leaves_a_note_and_the_counts_so_far(
        start: Start, tmp_path: Path) -> None:
    """Receipts that never come stop the wait at the delivery timeout, with the Sent count
    and a note that says what to do."""
    receipts = ReceiptSettings(seed=2, no_receipt_rate=0.5)
    _, settings = await start(receipts=receipts)
    report = await engine.send(make_list(["ok"] * 40), sender=SENDER, text="Hi",
                               config=settings, credentials=DEMO_CREDENTIALS,
                               wait="delivered", delivery_timeout=0.3)
    (batch,) = report["batches"]
    assert batch["sent"] == 20
    assert "a2p outcomes" in (batch["note"] or "")
    assert report["status"] == "completed"


async def test_an_interrupted_export_goes_on_where_it_stopped(
        start: Start, tmp_path: Path) -> None:
    """Stopped after a few chunks, the export resumes from its checkpoint and the file is the
    same as one written in one go."""
    settings, journal, _ = await sent_run(start, tmp_path, 200)
    whole = tmp_path / "whole.csv"
    options = {"config": settings, "credentials": DEMO_CREDENTIALS}
    await export_to(whole, journal, options)
    cut = tmp_path / "cut.csv"
    with pytest.raises(KeyboardInterrupt):
        await export_to(cut, journal, options, stop_at=3)
    assert not cut.exists()
    assert cut.with_name("cut.csv.part").exists()
    resumed, _ = await export_to(cut, journal, options)
    assert resumed
    assert cut.read_bytes() == whole.read_bytes()
    assert not cut.with_name("cut.csv.progress").exists()


async def export_to(out: Path, journal: Path, options: dict[str, Any],
                    stop_at: int | None = None, mid_chunk: bool = False) -> tuple[bool, int]:
    """Write an export the way the CLI does; with ``stop_at``, interrupt at the checkpoint
    of that chunk (with ``mid_chunk``, the first one inside it, between two pages). Returns
    (whether it went on from an interrupted one, message-store pages read)."""
    async with Export(journal, **options) as export:
        file = OutputFile(str(out), "csv", export.extra_columns, {"journal": str(journal)})
        try:
            start_at = file.open()

            def checkpoint(at: Checkpoint) -> None:
                file.checkpoint(at)
                if stop_at is not None and at.span == stop_at and \
                        (at.token is not None) == mid_chunk:
                    raise KeyboardInterrupt

            export.on_checkpoint = checkpoint
            async for row in export.rows(start_at):
                file.write(row)
            file.finish()
        finally:
            file.close()
    return file.resumed, export.pages


async def test_an_export_stopped_between_pages_goes_on_at_that_page(
        start: Start, tmp_path: Path) -> None:
    """Stopped between two 1,000-record pages of one big batch, the export goes on at the
    record and page where it stopped, and the file is the same as one written in one go."""
    settings, journal, report = await sent_run(start, tmp_path, 1500, max_bytes=1_000_000)
    assert len(report["batches"]) == 1
    options = {"config": settings, "credentials": DEMO_CREDENTIALS}
    whole, cut = tmp_path / "whole.csv", tmp_path / "cut.csv"
    _, pages = await export_to(whole, journal, options)
    assert pages == 3  # 3,000 messages
    with pytest.raises(KeyboardInterrupt):
        await export_to(cut, journal, options, stop_at=0, mid_chunk=True)
    saved = orjson.loads(cut.with_name("cut.csv.progress").read_bytes())
    # stopped after the first page: its 1,000 sent records and the 500 local rejections among
    # them written (positions 0-1,499), and the simulator's token for the second page kept
    assert (saved["position"], saved["totals"]["rows"], saved["token"]) == (1500, 1500, "1000")
    assert await export_to(cut, journal, options) == (True, 2)  # only the pages not read
    assert cut.read_bytes() == whole.read_bytes()


async def test_a_changed_list_is_refused(start: Start, tmp_path: Path) -> None:
    """Rows are matched by position: a list changed since the send is refused with the fix."""
    settings, journal, _ = await sent_run(start, tmp_path, 10)
    (tmp_path / "list.csv").write_text("to\n+14155550100\n")
    with pytest.raises(JournalError, match="--input PATH"):
        async for _ in engine.outcomes(journal, config=settings, credentials=DEMO_CREDENTIALS):
            pass


async def test_totals_with_only_agree_with_a_full_export(start: Start, tmp_path: Path) -> None:
    """--only writes fewer rows, and may skip reading a batch, yet its totals are the same."""
    settings, journal, report = await sent_run(start, tmp_path, 100, failure_rate=0.0)
    options: dict[str, Any] = {"config": settings, "credentials": DEMO_CREDENTIALS}
    async with Export(journal, **options) as full:
        rows = [row async for row in full.rows()]
    async with Export(journal, only=("failed",), **options) as failed:
        kept = [row async for row in failed.rows()]
    assert len(rows) == 300
    assert {row.outcome for row in kept} == {"rejected-local"}
    assert failed.totals.as_json() == full.totals.as_json()
    assert failed.pages == 0  # nothing failed at the server: no message store was read
    assert full.totals.outcomes["rejected-local"] == report["totals"]["rejectedLocal"] == 100


async def test_only_rejected_local_totals_the_run_truly_and_its_selection_apart(
        start: Start, tmp_path: Path) -> None:
    """--only rejected-local reads no message store (status counts stand in), yet its run
    totals are a full export's, retryable failures included, and ``selected`` totals the rows
    it wrote: all rejected-local, none retryable; --only retryable selects the retryable."""
    codes = (("SMS-RC-503", 0.6), ("SMS-CAR-411", 0.4))
    settings, journal, _ = await sent_run(start, tmp_path, 100, failure_rate=0.3,
                                          receipts=ReceiptSettings(codes=codes))
    options: dict[str, Any] = {"config": settings, "credentials": DEMO_CREDENTIALS}
    async with Export(journal, **options) as full:
        rows = [row async for row in full.rows()]
    async with Export(journal, only=("rejected-local",), **options) as local:
        kept = [row async for row in local.rows()]
    async with Export(journal, only=("retryable",), **options) as again:
        retry = [row async for row in again.rows()]
    assert local.pages == 0  # every batch skipped thanks to its counts
    assert full.totals.retryable == sum(row.retryable for row in rows) > 0
    assert local.totals.as_json() == again.totals.as_json() == full.totals.as_json()
    assert full.selected.as_json() == full.totals.as_json()
    selected = local.selected.as_json()
    assert (selected["rows"], selected["rejected-local"], selected["retryable"]) == \
        (len(kept), 100, 0)
    assert sum(selected[o] for o in OUTCOMES) == len(kept)
    assert again.selected.retryable == again.selected.rows == len(retry) == \
        full.totals.retryable


async def test_full_pages_of_a_large_batch_are_read_whole(start: Start, tmp_path: Path) -> None:
    """A 3,500-recipient batch is read in 1,000-record pages (each far larger than one network
    read) and every recipient gets its row."""
    settings, journal, report = await sent_run(start, tmp_path, 1750, max_bytes=1_000_000)
    assert len(report["batches"]) == 1
    rows = [row async for row in engine.outcomes(journal, config=settings,
                                                 credentials=DEMO_CREDENTIALS)]
    outcomes = [row.outcome for row in rows]
    assert len(rows) == 5250
    assert outcomes.count("rejected-local") == 1750
    assert sum(o in ("delivered", "delivery-failed", "sending-failed", "opted-out")
               for o in outcomes) == 3500
