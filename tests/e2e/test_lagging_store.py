"""Lost answers and a message store that lags Completed (the simulator's store_lag): the
rejections of an adopted batch are read back only from a complete store, so nobody texted is
reported rejected or offered for a retry; a store still incomplete when store_window ends
leaves its recipients pending until a resume or ``a2p outcomes`` settles them."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.config.settings import Settings
from engine.results.export import Export
from engine.results.rows import Row
from engine.simulator import FaultSettings, RunningSimulator
from engine.simulator.lost_answers import OTHER_CAMPAIGN
from engine.types import OutcomeFilter
from tests.e2e.conftest import SENDER, Start
from tests.lists import any_country, scattered


def texted(running: RunningSimulator) -> Counter[str]:
    """Every recipient the simulator accepted a message for, from its ledger."""
    return Counter(e[2] for e in running.simulator.store.ledger() if e[3] != OTHER_CAMPAIGN)


def write_list(path: Path, n: int, seed: int) -> tuple[list[str], set[int]]:
    numbers, _, server = scattered(n, random.Random(seed), bad=0.05)
    path.write_text("to\n" + "".join(f"{x}\n" for x in numbers))
    return numbers, server


async def rows_of(journal: Path, settings: Settings, *only: OutcomeFilter) -> list[Row]:
    async with Export(journal, only=only, config=settings,
                      credentials=DEMO_CREDENTIALS) as export:
        return [row async for row in export.rows()]


def settings_for(settings: Settings, store_window: float) -> Settings:
    return replace(settings, retry=replace(settings.retry, reconcile_window=2.5,
                                           backoff_initial=0.1, backoff_max=0.5,
                                           store_window=store_window))


@pytest.mark.slow
async def test_lost_answers_with_a_store_lagging_seconds_report_exact_rejections(
    start: Start, tmp_path: Path
) -> None:
    """Answers lost, the store seconds behind Completed: rejected[] is exactly the server's
    true rejections, sent is the ledger's count, nobody is pending, and nobody texted is in
    the follow-up list."""
    faults = FaultSettings(seed=11, scope="send", accept_drop_rate=0.5, store_lag=3.0)
    running, settings = await start(faults=faults, messages_per_second=2000.0,
                                    failure_rate=0.0)
    settings = settings_for(settings, store_window=30.0)
    path, journal = tmp_path / "list.csv", tmp_path / "run.journal"
    _, server = write_list(path, 400, seed=5)
    report = await engine.send(path, sender=SENDER, text="Ours", config=settings,
                               read=any_country("Ours"), credentials=DEMO_CREDENTIALS,
                               max_batch_bytes=2000, journal=journal)
    ledger = texted(running)
    # answers were really lost, and each batch whose answer was lost was adopted
    assert report["totals"]["adoptedChunks"] == running.simulator.stats["accept_drop"] > 0
    assert max(ledger.values()) == 1  # nobody texted twice
    assert {r["index"] for r in report["rejected"] if r["source"] == "server"} == server
    assert report["totals"]["sent"] == sum(ledger.values())
    assert report["totals"]["pending"] == 0
    assert report["status"] == "completed"
    retry = await rows_of(journal, settings, "retryable")
    assert not {row.to for row in retry} & set(ledger)


@pytest.mark.slow
async def test_a_store_lagging_past_the_window_leaves_pending_and_resume_settles_them(
    start: Start, tmp_path: Path
) -> None:
    """The store lags far longer than store_window: the adopted chunks' unlisted recipients
    are pending (neither sent nor rejected, not retryable) and 'a2p outcomes' says so; once
    the store catches up, outcomes and --resume settle them: rejected[] exact, sent equal to
    the ledger, nothing pending, nobody texted twice."""
    faults = FaultSettings(seed=4, scope="send", accept_drop_rate=1.0, store_lag=8.0)
    running, settings = await start(faults=faults, messages_per_second=2000.0,
                                    failure_rate=0.0)
    settings = settings_for(settings, store_window=0.3)
    path, journal = tmp_path / "list.csv", tmp_path / "run.journal"
    numbers, server = write_list(path, 200, seed=9)
    first = await engine.send(path, sender=SENDER, text="Ours", config=settings,
                              read=any_country("Ours"), credentials=DEMO_CREDENTIALS,
                              max_batch_bytes=4000, journal=journal)
    ledger = texted(running)
    totals = first["totals"]
    assert totals["adoptedChunks"] == len(first["batches"]) > 1
    assert totals["pending"] > 0
    assert [r for r in first["rejected"] if r["source"] == "server"] == []  # not guessed
    assert totals["sent"] + totals["pending"] + totals["rejectedLocal"] == len(numbers)
    assert totals["sent"] <= sum(ledger.values())  # only those proven sent
    assert {b["reason"] for b in first["batches"]} == {"pending"}
    assert None not in [b["pending"] for b in first["batches"]]
    assert sum(b["pending"] or 0 for b in first["batches"]) == totals["pending"]

    rows = await rows_of(journal, settings)
    pending = {row.position for row in rows if row.outcome == "pending"}
    assert 0 < len(pending) <= totals["pending"]  # the store went on filling meanwhile
    # a row is rejected only where its store is whole: never someone texted
    assert {row.position for row in rows if row.outcome == "rejected-server"} <= server
    assert not any(row.retryable for row in rows if row.outcome == "pending")
    retry = await rows_of(journal, settings, "retryable")
    assert not {row.to for row in retry} & set(ledger)

    running.simulator.set_faults(FaultSettings())  # the store has caught up
    rows = await rows_of(journal, settings)
    assert not [row for row in rows if row.outcome == "pending"]
    assert {row.position for row in rows if row.outcome == "rejected-server"} == server

    report = await engine.send(resume=journal, config=settings, credentials=DEMO_CREDENTIALS)
    assert texted(running) == ledger  # nothing sent again
    assert max(ledger.values()) == 1
    assert {r["index"] for r in report["rejected"] if r["source"] == "server"} == server
    assert report["totals"]["sent"] == sum(ledger.values())
    assert report["totals"]["pending"] == 0
    assert {b["reason"] for b in report["batches"]} == {"recovered"}
    assert report["status"] == "completed"


async def test_wait_accepted_leaves_adopted_recipients_pending_says_so_and_outcomes_agree(
    start: Start, tmp_path: Path
) -> None:
    """With --wait accepted no message store is read: an adopted batch's recipients beyond
    its batchSize are pending in the report and in 'a2p outcomes' (pending while the store
    lags, the report's rejections once it is whole; never unknown), and a warning names the
    journal and the command that settles them; a resume with --wait accepted says so again,
    one without settles them: rejected[] exact, nothing pending, nobody texted twice."""
    faults = FaultSettings(seed=3, scope="send", accept_drop_rate=1.0, store_lag=60.0)
    running, settings = await start(faults=faults, messages_per_second=2000.0,
                                    failure_rate=0.0)
    settings = settings_for(settings, store_window=0.3)
    path, journal = tmp_path / "list.csv", tmp_path / "run.journal"
    _, server = write_list(path, 200, seed=9)
    events: list[dict[str, object]] = []

    async def keep(event: dict[str, object]) -> None:
        events.append(event)

    first = await engine.send(path, sender=SENDER, text="Ours", config=settings,
                              read=any_country("Ours"), credentials=DEMO_CREDENTIALS,
                              max_batch_bytes=8000, journal=journal, wait="accepted",
                              on_event=keep)
    ledger = texted(running)
    pending = first["totals"]["pending"]
    assert first["totals"]["adoptedChunks"] == len(first["batches"]) == 1
    assert pending == len(server) > 0
    (warning,) = [w for w in first["warnings"] if "pending" in w]
    assert str(journal) in warning
    assert "a2p send --resume" in warning
    assert [e["code"] for e in events if e["event"] == "warning"] == ["pending"]
    rows = await rows_of(journal, settings)
    assert not [row for row in rows if row.outcome == "unknown"]
    # the store lists nobody yet: who of the chunk was sent is not known, all are pending
    assert server <= {row.position for row in rows if row.outcome == "pending"}

    again = await engine.send(resume=journal, config=settings, credentials=DEMO_CREDENTIALS,
                              wait="accepted")
    assert again["totals"]["pending"] == pending
    assert any(str(journal) in w for w in again["warnings"])
    running.simulator.set_faults(FaultSettings())  # the store has caught up
    rows = await rows_of(journal, settings)
    assert Counter(row.outcome for row in rows)["rejected-server"] == pending  # as reported
    assert not [row for row in rows if row.outcome in ("unknown", "pending")]
    report = await engine.send(resume=journal, config=settings, credentials=DEMO_CREDENTIALS)
    assert texted(running) == ledger  # nothing sent again
    assert max(ledger.values()) == 1
    assert {r["index"] for r in report["rejected"] if r["source"] == "server"} == server
    assert report["totals"]["pending"] == 0
    assert report["status"] == "completed"


@pytest.mark.slow
async def test_chunks_of_thousands_behind_a_gateway_and_a_lagging_store_stay_exact(
    start: Start, tmp_path: Path
) -> None:
    """At real sizes: 30,000 recipients in chunks of about 6,000 (stores listed over several
    1,000-message pages, answers with hundreds of rejections written in 8 KB pieces), half
    the POSTs answered 503 (half of those a gateway's HTML) after the batch was created, and
    a store lagging Completed by seconds: nobody texted twice, rejected[] exactly the
    server's, sent equal to the ledger, nobody pending."""
    faults = FaultSettings(seed=21, scope="send", error_after_create_rate=0.5,
                           gateway_html_rate=0.5, store_lag=2.0, answer_piece=8192)
    running, settings = await start(faults=faults, messages_per_second=60_000.0,
                                    failure_rate=0.0)
    settings = settings_for(settings, store_window=30.0)
    path, journal = tmp_path / "list.csv", tmp_path / "run.journal"
    _, server = write_list(path, 30_000, seed=8)
    report = await engine.send(path, sender=SENDER, text="Ours", config=settings,
                               read=any_country("Ours"), credentials=DEMO_CREDENTIALS,
                               max_batch_bytes=200_000, journal=journal)
    ledger = texted(running)
    assert running.simulator.stats["error_after_create"] > 0  # answers were really lost
    assert report["totals"]["adoptedChunks"] == running.simulator.stats["error_after_create"]
    assert min(b["messages"] for b in report["batches"]) > 1_000
    assert max(ledger.values()) == 1
    assert {r["index"] for r in report["rejected"] if r["source"] == "server"} == server
    assert report["totals"]["sent"] == sum(ledger.values())
    assert report["totals"]["pending"] == 0
    assert report["status"] == "completed"
