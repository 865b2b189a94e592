"""Sending against the simulator on loopback: every recipient accepted exactly once, every
rejection at its original position, every failure class handled as documented."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.core.policy import Rules
from engine.simulator import FaultSettings, GroupLimit
from tests.e2e.conftest import SENDER, Start, ledger_numbers
from tests.lists import any_country, scattered


def recipients(n: int, seed: int = 1) -> tuple[list[str], set[int], set[int]]:
    return scattered(n, random.Random(seed))


async def run(items: Any, settings: engine.Settings, **options: Any) -> dict[str, Any]:
    events: list[dict[str, Any]] = []

    async def collect(event: dict[str, Any]) -> None:
        events.append(event)

    options.setdefault("text", "Hi")
    options.setdefault("read", any_country(options["text"]))
    report = await engine.send(items, sender=SENDER, config=settings,
                               credentials=DEMO_CREDENTIALS, on_event=collect, **options)
    return {**report, "events": events}


async def test_rejections_map_to_original_positions_across_many_chunks(start: Start) -> None:
    """Invalid numbers scattered over many chunks come back at their exact input positions,
    and the ledger holds every valid recipient exactly once."""
    running, settings = await start()
    items, local, server = recipients(3000)
    report = await run(items, settings, max_batch_bytes=4000)
    assert len(report["batches"]) > 10
    assert {r["index"] for r in report["rejected"] if r["source"] == "local"} == local
    assert {r["index"] for r in report["rejected"] if r["source"] == "server"} == server
    valid = [n for i, n in enumerate(items) if i not in local | server]
    assert sorted(ledger_numbers(running)) == sorted(valid)
    totals = report["totals"]
    assert (totals["records"], totals["sent"]) == (3000, len(valid))
    assert totals["rejectedLocal"] + totals["rejectedServer"] + totals["sent"] == 3000
    assert report["status"] == "completed"
    assert all(b["status"] == "completed" for b in report["batches"])
    assert totals["delivered"] + totals["deliveryFailed"] + totals["sendingFailed"] == len(valid)


async def test_per_message_text_is_sent_as_given(start: Start) -> None:
    """Per-message texts reach the server intact; texts equal to the batch text are not
    repeated but still delivered with it."""
    running, settings = await start()
    items = [(f"+1415555{i:04d}", "Hi" if i % 3 == 0 else f"Hello {i} \"quoted\" é")
             for i in range(300)]
    await run(items, settings, max_batch_bytes=3000)
    texts = {entry[2]: entry[3] for entry in running.simulator.store.ledger()}
    assert texts == dict(items)


async def test_library_call_from_a_file_with_line_numbers(start: Start, tmp_path: Any) -> None:
    """A CSV path is streamed; rejections carry their file line."""
    running, settings = await start()
    path = tmp_path / "list.csv"
    path.write_text("to,name\n+14155550100,Ann\n+442071838750,Bob\nnope,Cy\n")
    report = await run(path, settings)
    assert [(r["index"], r["line"], r["source"]) for r in report["rejected"]] == [
        (1, 3, "server"), (2, 4, "local")]
    assert ledger_numbers(running) == ["+14155550100"]


@pytest.mark.parametrize("retry_after_header", [True, False])
async def test_429_bursts_are_waited_out_and_nothing_is_sent_twice(
    start: Start, retry_after_header: bool
) -> None:
    """429s (with Retry-After, or without it and the default wait) delay, never duplicate."""
    faults = FaultSettings(seed=3, burst_rate=0.3, burst_length=2, burst_retry_after=0,
                           scope="send")
    running, settings = await start(faults=faults, retry_after_header=retry_after_header)
    items, _, _ = recipients(400, seed=2)
    report = await run(items, settings, max_batch_bytes=2000)
    assert running.simulator.stats["429"] > 0
    assert report["requests"]["throttled"] == running.simulator.stats["429"]
    assert sorted(ledger_numbers(running)) == sorted(set(ledger_numbers(running)))
    assert report["status"] == "completed"


@pytest.mark.slow
async def test_steady_run_under_the_limit_meets_no_429(start: Start) -> None:
    """With the budget paced to the server's own limit, a run never meets a 429."""
    running, settings = await start(light=GroupLimit(12, 1.0, 2.0))
    settings = replace(settings, rate_limit=replace(settings.rate_limit, light_requests=12,
                                                    light_window=1.0))
    items, _, _ = recipients(900, seed=4)
    report = await run(items, settings, max_batch_bytes=700)
    assert report["requests"]["made"] > 24  # more than two windows' worth
    assert running.simulator.stats["429"] == 0
    assert report["status"] == "completed"


@pytest.mark.slow
async def test_503_that_created_nothing_is_reconciled_then_sent_once(start: Start) -> None:
    """A 503 may follow a created batch: the chunk is reconciled, proved absent, sent
    again, and lands once."""
    faults = FaultSettings(seed=5, error_rate=0.5, error_statuses=(503,), scope="send")
    running, settings = await start(faults=faults)
    items, local, server = recipients(500, seed=6)
    report = await run(items, settings, max_batch_bytes=1000)
    valid = [n for i, n in enumerate(items) if i not in local | server]
    assert sorted(ledger_numbers(running)) == sorted(valid)
    assert running.simulator.stats["503"] > 0
    assert any(b["attempts"] > 1 for b in report["batches"])


@pytest.mark.parametrize(("server_limit", "ours", "n"),
                         [(2048, 6000, 600), (400_000, 700_000, 30_000)],
                         ids=["small-bodies", "large-streamed-bodies"])
async def test_413_splits_the_chunk_and_lowers_the_limit(start: Start, server_limit: int,
                                                         ours: int, n: int) -> None:
    """A server limit below ours: the chunk is split in halves and later chunks are cut
    smaller, whether the body went out whole or in slices."""
    running, settings = await start(max_body_bytes=server_limit)
    items = scattered(n, random.Random(0), bad=0.0)[0]
    report = await run(items, settings, max_batch_bytes=ours, concurrency=1)
    assert sorted(ledger_numbers(running)) == sorted(items)
    assert any(b["status"] == "split" for b in report["batches"])
    assert report["settings"]["finalMaxBatchBytes"] < ours
    assert report["status"] == "completed"


async def test_expired_access_token_is_refreshed(start: Start) -> None:
    """Tokens that die early give 401s; the engine refreshes and carries on."""
    running, settings = await start(faults=FaultSettings(early_expiry_rate=1.0,
                                                         early_expiry=0.05, latency=0.02))
    items = [f"+1415555{i:04d}" for i in range(200)]
    report = await run(items, settings, max_batch_bytes=1500)
    assert running.simulator.stats["401"] > 0
    assert sorted(ledger_numbers(running)) == sorted(items)
    assert report["status"] == "completed"


@pytest.mark.slow
async def test_expired_refresh_token_falls_back_to_the_jwt(start: Start) -> None:
    """When the refresh token is refused too, the JWT is presented again."""
    running, settings = await start(refresh_token_ttl=1, faults=FaultSettings(
        early_expiry_rate=1.0, early_expiry=0.3, latency=0.1))
    items = [f"+1415555{i:04d}" for i in range(100)]
    report = await run(items, settings, max_batch_bytes=400, concurrency=1)
    assert running.simulator.stats["401"] > 0
    assert sorted(ledger_numbers(running)) == sorted(items)
    assert report["status"] == "completed"


async def test_accept_then_drop_is_reconciled_not_resent(start: Start) -> None:
    """A batch created whose answer was lost is found on the server and adopted: no SMS is
    sent twice, and the report says its server rejections are unknown."""
    faults = FaultSettings(seed=11, accept_drop_rate=0.5, scope="send")
    running, settings = await start(faults=faults)
    items = [f"+1415555{i:04d}" for i in range(400)]
    report = await run(items, settings, max_batch_bytes=2000)
    numbers = ledger_numbers(running)
    assert sorted(numbers) == sorted(items)
    assert running.simulator.stats["accept_drop"] > 0
    adopted = [b for b in report["batches"] if b["note"] and "adopted" in b["note"]]
    assert adopted
    assert report["status"] == "completed"


async def test_ambiguous_with_fail_policy_reports_unknown_ranges(start: Start) -> None:
    """With --on-ambiguous fail, a lost answer leaves the chunk unknown with its range."""
    running, settings = await start(faults=FaultSettings(accept_drop_rate=1.0, scope="send"))
    items = [f"+1415555{i:04d}" for i in range(50)]
    report = await run(items, settings, on_ambiguous="fail")
    batch = report["batches"][0]
    assert (batch["status"], batch["firstIndex"], batch["lastIndex"]) == ("unknown", 0, 49)
    assert report["totals"]["unknownChunks"] == 1
    assert report["status"] == "failed"
    assert len(ledger_numbers(running)) == 50  # sent once, never twice


async def test_bad_sender_fails_the_chunk_without_retry(start: Start) -> None:
    """A 400 (unknown from) fails each chunk once, with the server's code in the report
    (the pre-flight, which would refuse this sender first, is off)."""
    _running, settings = await start()
    report = await engine.send(["+14155550100"], sender="+16505559999", text="Hi",
                               config=settings, credentials=DEMO_CREDENTIALS, preflight=False)
    batch = report["batches"][0]
    assert (batch["status"], batch["attempts"]) == ("failed", 1)
    assert (batch["error"] or {})["errorCode"] == "CMN-101"
    assert report["status"] == "failed"


async def test_wrong_credentials_raise_auth_error_without_secrets(start: Start) -> None:
    """Refused credentials raise AuthError, and no secret appears in its message."""
    _, settings = await start()
    bad = engine.Credentials("demo-client-id", "s3cret-value", "jwt-value")
    with pytest.raises(engine.AuthError) as info:
        await engine.send(["+14155550100"], sender=SENDER, text="Hi", config=settings,
                          credentials=bad)
    assert "s3cret-value" not in str(info.value)
    assert "jwt-value" not in str(info.value)


async def test_wait_accepted_ends_with_batch_ids(start: Start) -> None:
    """With wait=accepted the run ends once every chunk has a batch id."""
    _, settings = await start(messages_per_second=1.0)
    report = await run([f"+1415555{i:04d}" for i in range(20)], settings, wait="accepted")
    assert report["status"] == "completed"
    assert report["batches"][0]["status"] == "accepted"


async def test_send_events_streams_the_same_run(start: Start) -> None:
    """send_events yields chunk_submitted, rejected, batch_completed and a final summary."""
    _, settings = await start()
    events = [e async for e in engine.send_events(
        ["+14155550100", "bad"], sender=SENDER, text="Hi", config=settings,
        credentials=DEMO_CREDENTIALS)]
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "summary"
    assert {"chunk_submitted", "rejected", "batch_completed"} <= set(kinds)


async def test_async_iterable_input(start: Start) -> None:
    """An async iterable of recipients is streamed like a list."""
    running, settings = await start()

    async def numbers() -> Any:
        for i in range(30):
            yield f"+1415555{i:04d}"

    await run(numbers(), settings)
    assert len(ledger_numbers(running)) == 30


async def test_not_sent_is_retried_then_reported_failed(start: Start) -> None:
    """Connection refused everywhere: nothing was sent, so the chunk fails after retries."""
    _, settings = await start()
    settings = replace(settings, server_url="http://127.0.0.1:9",
                       retry=Rules(max_attempts=2, backoff_initial=0.01, backoff_max=0.01,
                                   request_timeout=5.0))
    with pytest.raises(engine.EngineError):
        await engine.send(["+14155550100"], sender=SENDER, text="Hi", config=settings,
                          credentials=DEMO_CREDENTIALS)



async def test_reconciliation_never_adopts_another_campaigns_batch(start: Start) -> None:
    """Same sender, same recipients, other text just before: a lost answer is not mistaken
    for that batch; ours is found (or resent) and both campaigns reach everyone once."""
    running, settings = await start()
    items = [f"+1415555{i:04d}" for i in range(40)]
    await run(items, settings, text="Earlier campaign")
    from engine.simulator import FaultSettings

    running.simulator.set_faults(FaultSettings(accept_drop_rate=1.0, scope="send"))
    report = await run(items, settings, text="This campaign", on_ambiguous="reconcile",
                       wait="accepted")
    ledger = list(running.simulator.store.ledger())
    ours = {batch_id for batch_id, _, _, text in ledger if text == "This campaign"}
    assert [e[3] for e in ledger].count("Earlier campaign") == 40
    assert [e[3] for e in ledger].count("This campaign") == 40
    batch = report["batches"][0]
    assert batch["note"]
    assert "adopted" in batch["note"]
    assert {batch["batchId"]} == ours  # the batch our lost request created, not the other


async def test_a_pipe_path_is_sent_whole_and_never_peeked(start: Start) -> None:
    """A /dev/fd/N pipe (`a2p send <(zcat list.gz)`) sends every recipient: nothing is lost."""
    import os
    import threading
    from collections import Counter

    running, settings = await start()
    numbers = [f"+1415555{i:04d}" for i in range(10000)]  # 130 KB: more than any peek
    read_end, write_end = os.pipe()
    data = "".join(n + "\n" for n in numbers).encode()

    def feed() -> None:
        with os.fdopen(write_end, "wb") as handle:
            handle.write(data)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        report = await engine.send(f"/dev/fd/{read_end}", sender=SENDER, text="Hi",
                                   config=settings, credentials=DEMO_CREDENTIALS,
                                   wait="accepted")
    finally:
        feeder.join(5)
        os.close(read_end)
    assert Counter(ledger_numbers(running)) == Counter(numbers)
    assert report["totals"]["records"] == len(numbers)


async def test_an_item_with_a_lone_surrogate_is_reported_not_a_crash(start: Start) -> None:
    """A lone surrogate in one item's text rejects that record; the others are sent."""
    running, settings = await start()
    report = await engine.send([("+14155550100", "a\ud800"), ("+14155550101", "ok")],
                               sender=SENDER, text="Hi", config=settings,
                               credentials=DEMO_CREDENTIALS, wait="accepted")
    assert ledger_numbers(running) == ["+14155550101"]
    assert [(r["index"], r["errorCode"]) for r in report["rejected"]] == [(0, "LCL-BAD-UTF8")]
