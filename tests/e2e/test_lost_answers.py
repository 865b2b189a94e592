"""Lost answers the way large services lose them (seeded simulator fault modes): each is
reconciled over the settle window, so every valid recipient is texted exactly once, no chunk
is left unknown, and every server rejection is reported at its input position."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.simulator import FaultSettings
from engine.simulator.lost_answers import OTHER_CAMPAIGN
from tests.e2e.conftest import SENDER, Start
from tests.lists import any_country, scattered
from tests.waiting import until

MODES: dict[str, dict[str, Any]] = {
    "created 1 s after a 504": {"late_create_rate": 0.3, "late_create_delay": 1.0},
    "created 1 s after a timeout": {"late_create_rate": 0.3, "late_create_delay": 1.0,
                                    "late_create_drop": True},
    "listed 1 s late": {"accept_drop_rate": 0.3, "listing_lag": 1.0},
    "messages only once processing": {"accept_drop_rate": 0.3, "messages_after_start": True},
    "server clock 5 min ahead": {"accept_drop_rate": 0.3, "clock_skew": 300.0},
    "server clock 5 min behind": {"accept_drop_rate": 0.3, "clock_skew": -300.0},
    "pages of 2 among other campaigns": {"accept_drop_rate": 0.3, "page_cap": 2,
                                         "other_campaigns": 2},
    "answers in 64-byte pieces": {"accept_drop_rate": 0.2, "answer_piece": 64,
                                  "answer_pause": 0.0005},
    # a gateway's 5xx after its backend created the batch (issue 18)
    "503 after creation, JSON with Retry-After": {
        "error_after_create_rate": 0.3, "error_after_create_statuses": (503,),
        "gateway_retry_after": 1},
    "5xx after creation, a load balancer's HTML": {
        "error_after_create_rate": 0.3, "error_after_create_statuses": (500, 502, 503, 504),
        "gateway_html_rate": 1.0},
    # a gateway's Date from a clock 5 min off the backend's creationTime (adversary, i19)
    "503 after creation, Date from another clock": {
        "error_after_create_rate": 0.3, "clock_skew": -300.0, "date_skew": 300.0},
    # a gateway's unreadable 2xx: an HTML 200 (nothing created) or a 201 cut short
    "unreadable 2xx": {"unreadable_2xx_rate": 0.3},
    # a 201 carrying an earlier batch's body, after the real batch was created
    "201 with another batch's body": {"replayed_answer_rate": 0.3},
}
LOST = ("late_create", "accept_drop", "error_after_create", "held_answer", "truncated_201",
        "replayed_answer")


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(MODES))
async def test_each_lost_answer_mode_ends_exactly_once(start: Start, mode: str) -> None:
    """No duplicates, no losses, no unknown chunks, exact server rejections."""
    faults = FaultSettings(seed=7, scope="send", **MODES[mode])
    running, settings = await start(faults=faults, messages_per_second=2000.0)
    settings = replace(settings, retry=replace(settings.retry, reconcile_window=2.5,
                                               backoff_initial=0.1, backoff_max=0.5))
    numbers, local, server = scattered(300, random.Random(5), bad=0.05)
    report = await engine.send(numbers, sender=SENDER, text="Ours", config=settings,
                               read=any_country("Ours"), credentials=DEMO_CREDENTIALS,
                               max_batch_bytes=1500)
    ledger = [e[2] for e in running.simulator.store.ledger() if e[3] != OTHER_CAMPAIGN]
    valid = [n for i, n in enumerate(numbers) if i not in local | server]
    assert sorted(ledger) == sorted(valid)  # each once: no duplicate, no loss
    assert report["totals"]["unknownChunks"] == 0
    assert report["status"] == "completed"
    assert {r["index"] for r in report["rejected"] if r["source"] == "server"} == server
    lost = sum(running.simulator.stats[k] for k in LOST)
    assert lost > 0  # the fault really happened
    assert report["totals"]["adoptedChunks"] > 0


async def test_a_window_that_ends_undecided_leaves_the_range_unknown(start: Start) -> None:
    """Messages never listable and a short window: unknown with its range, not resent."""
    faults = FaultSettings(accept_drop_rate=1.0, scope="send", messages_after_start=True)
    running, settings = await start(faults=faults, messages_per_second=0.001)
    settings = replace(settings, retry=replace(settings.retry, reconcile_window=0.3))
    numbers = [f"+1415555{i:04d}" for i in range(20)]
    report = await engine.send(numbers, sender=SENDER, text="Ours", config=settings,
                               credentials=DEMO_CREDENTIALS, wait="accepted")
    batch = report["batches"][0]
    assert (batch["status"], batch["firstIndex"], batch["lastIndex"]) == ("unknown", 0, 19)
    assert "could not reconcile" in (batch["note"] or "")
    assert len(list(running.simulator.store.ledger())) == 20  # sent once, never twice


async def test_resume_reconciles_an_undecided_chunk_again_and_adopts_it(
    start: Start, tmp_path: Any
) -> None:
    """Left unknown when the window ended undecided; once the server lists its messages, a
    resume finds the batch in the run's history and adopts it: never sent twice."""
    faults = FaultSettings(accept_drop_rate=1.0, scope="send", messages_after_start=True)
    running, settings = await start(faults=faults, messages_per_second=0.001)
    settings = replace(settings, retry=replace(settings.retry, reconcile_window=0.3))
    path, journal = tmp_path / "list.csv", tmp_path / "run.journal"
    numbers = [f"+1415555{i:04d}" for i in range(20)] + ["+442071838750"]
    path.write_text("to\n" + "".join(f"{n}\n" for n in numbers))
    first = await engine.send(path, sender=SENDER, text="Ours", config=settings,
                              read=any_country("Ours"), credentials=DEMO_CREDENTIALS,
                              journal=journal)
    assert first["batches"][0]["status"] == "unknown"
    running.simulator.set_faults(FaultSettings())  # processing starts: messages listed
    running.simulator.store.batches[0].rate = 1e6
    report = await engine.send(resume=journal, config=settings, credentials=DEMO_CREDENTIALS)
    batch = report["batches"][0]
    assert (batch["status"], batch["adopted"]) == ("completed", True)
    assert len(list(running.simulator.store.ledger())) == 20  # sent once, never twice
    assert [(r["index"], r["source"]) for r in report["rejected"]] == [(20, "server")]
    assert report["status"] == "completed"


async def test_a_stop_ends_a_long_reconciliation_and_resume_takes_it_up(
    start: Start, tmp_path: Any
) -> None:
    """Stopped while a lost answer is being looked for (a 60 s window): the run ends at
    once, interrupted, the chunk unknown; the resume adopts the batch, never resending."""
    import anyio

    faults = FaultSettings(accept_drop_rate=1.0, scope="send", messages_after_start=True)
    running, settings = await start(faults=faults, messages_per_second=0.001)
    settings = replace(settings, retry=replace(settings.retry, reconcile_window=60.0))
    path, journal = tmp_path / "list.csv", tmp_path / "run.journal"
    path.write_text("to\n" + "".join(f"+1415555{i:04d}\n" for i in range(20)))
    stop = anyio.Event()

    async def stop_soon() -> None:
        stats = running.simulator.stats
        await until(lambda: stats["accept_drop"], "the simulator to drop the answer")
        answered = stats["200"]
        # the lost answer's reconciliation is under way once it has read a listing
        await until(lambda: stats["200"] > answered, "a listing read by the reconciliation")
        stop.set()

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            group.start_soon(stop_soon)
            first = await engine.send(path, sender=SENDER, text="Ours", config=settings,
                                      credentials=DEMO_CREDENTIALS, journal=journal,
                                      stop=stop)
    assert first["interrupted"]
    assert first["batches"][0]["status"] == "unknown"
    assert "stopped" in (first["batches"][0]["note"] or "")
    running.simulator.set_faults(FaultSettings())
    running.simulator.store.batches[0].rate = 1e6
    report = await engine.send(resume=journal, config=settings, credentials=DEMO_CREDENTIALS)
    assert report["batches"][0]["adopted"]
    assert len(list(running.simulator.store.ledger())) == 20


class LosesFirstPost:
    """A transport whose first batch POST never reaches the server and never answers."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.lost = False

    async def request(self, method: str, url: str, **kwargs: Any) -> Any:
        if method == "POST" and url.endswith("/batches") and not self.lost:
            self.lost = True
            raise engine.AmbiguousSendError("lost on the way (test)")
        return await self.inner.request(method, url, **kwargs)

    async def close(self) -> None:
        await self.inner.close()


@pytest.mark.slow
@pytest.mark.parametrize("source", ["file", "iterable"])
async def test_a_chunk_under_reconciliation_holds_no_sending_slot(
    start: Start, tmp_path: Any, source: str
) -> None:
    """With one sending slot, the other chunks are all accepted while the first one's lost
    answer is looked for; it is then resent (absent) once, from the input again for a file."""
    from engine.rc.transport import AiohttpTransport

    running, settings = await start()
    settings = replace(settings, concurrency=1,
                       retry=replace(settings.retry, reconcile_window=1.0))
    numbers = [f"+1415555{i:04d}" for i in range(200)]
    path = tmp_path / "list.txt"
    path.write_text("".join(f"{n}\n" for n in numbers))
    order: list[int] = []

    async def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "chunk_submitted":
            order.append(event["chunk"])

    transport = LosesFirstPost(AiohttpTransport(10.0))
    report = await engine.send(path if source == "file" else iter(numbers), sender=SENDER,
                               text="Ours", config=settings, credentials=DEMO_CREDENTIALS,
                               max_batch_bytes=1000, on_event=on_event, transport=transport)
    await transport.close()
    assert len(order) > 3
    assert order[-1] == 1  # the others went out while chunk 1 was reconciled
    assert sorted(e[2] for e in running.simulator.store.ledger()) == sorted(numbers)
    assert report["status"] == "completed"


class GatewayClock:
    """A transport whose Date headers come from our clock (a gateway other than the one that
    stamps creationTime), and which loses the answer to the second batch POST after the
    server has created the batch."""

    def __init__(self, inner: Any, lose: int = 2) -> None:
        self.inner = inner
        self.posts = 0
        self.lose = lose

    async def request(self, method: str, url: str, **kwargs: Any) -> Any:
        from email.utils import formatdate

        reply = await self.inner.request(method, url, **kwargs)
        if method == "POST" and url.endswith("/batches"):
            self.posts += 1
            if self.posts == self.lose:
                raise engine.AmbiguousSendError("answer lost (test)")
        return replace(reply, headers={**reply.headers, "Date": formatdate(usegmt=True)})

    async def close(self) -> None:
        await self.inner.close()


async def test_a_date_header_from_another_clock_does_not_hide_the_lost_batch(
    start: Start
) -> None:
    """Server clock 5 min behind, Date headers from ours: dateFrom also follows the
    creationTime of the batches already accepted, so the lost batch is found, not resent."""
    from engine.rc.transport import AiohttpTransport

    running, settings = await start(faults=FaultSettings(clock_skew=-300.0))
    settings = replace(settings, concurrency=1)
    numbers = [f"+1415555{i:04d}" for i in range(100)]
    transport = GatewayClock(AiohttpTransport(10.0))
    report = await engine.send(numbers, sender=SENDER, text="Ours", config=settings,
                               credentials=DEMO_CREDENTIALS, max_batch_bytes=1000,
                               transport=transport)
    await transport.close()
    assert sorted(e[2] for e in running.simulator.store.ledger()) == sorted(numbers)
    assert report["batches"][1]["adopted"]


async def test_the_first_post_lost_under_a_date_from_another_clock_is_adopted(
    start: Start
) -> None:
    """Server clock 5 min behind, Date headers from ours, the FIRST POST's answer lost: the
    other chunks' 201s calibrate the clock while it is looked for, so it is adopted."""
    from engine.rc.transport import AiohttpTransport

    running, settings = await start(faults=FaultSettings(clock_skew=-300.0))
    settings = replace(settings, concurrency=2, retry=replace(
        settings.retry, reconcile_window=2.0, backoff_initial=0.1, backoff_max=0.5))
    numbers = [f"+1415555{i:04d}" for i in range(100)]
    transport = GatewayClock(AiohttpTransport(10.0), lose=1)
    report = await engine.send(numbers, sender=SENDER, text="Ours", config=settings,
                               credentials=DEMO_CREDENTIALS, max_batch_bytes=1000,
                               transport=transport)
    await transport.close()
    assert sorted(e[2] for e in running.simulator.store.ledger()) == sorted(numbers)
    assert report["totals"]["adoptedChunks"] == 1
    assert report["status"] == "completed"


async def test_a_lone_lost_post_under_an_uncalibrated_date_is_left_unknown_not_resent(
    start: Start
) -> None:
    """One chunk, its answer lost, Date from another clock and no creationTime ever read:
    the batch that looks "too early" may be ours, so the chunk is unknown, never resent."""
    from engine.rc.transport import AiohttpTransport

    running, settings = await start(faults=FaultSettings(clock_skew=-300.0))
    settings = replace(settings, retry=replace(settings.retry, reconcile_window=0.5,
                                               backoff_initial=0.1, backoff_max=0.2))
    numbers = [f"+1415555{i:04d}" for i in range(20)]
    transport = GatewayClock(AiohttpTransport(10.0), lose=1)
    report = await engine.send(numbers, sender=SENDER, text="Ours", config=settings,
                               credentials=DEMO_CREDENTIALS, transport=transport,
                               wait="accepted")
    await transport.close()
    assert sorted(e[2] for e in running.simulator.store.ledger()) == sorted(numbers)
    (batch,) = report["batches"]
    assert batch["status"] == "unknown"
    assert "calibrated" in (batch["note"] or "")


async def test_an_earlier_smoke_test_to_the_first_rows_is_never_adopted(start: Start) -> None:
    """A smoke test of the same text to the first rows, sent 30 s before, is not taken for
    the campaign whose POST got a 500 that created nothing, once the other chunks' answers
    have calibrated the server's clock: every recipient is texted."""
    from collections import Counter

    from tests.e2e.conftest import ledger_numbers

    running, settings = await start()
    settings = replace(settings, concurrency=2)
    numbers = [f"+1415555{i:04d}" for i in range(60)]
    await engine.send(numbers[:1], sender=SENDER, text="Ours", config=settings,
                      credentials=DEMO_CREDENTIALS, preflight=False, wait="accepted")
    for batch in running.simulator.store.batches:  # the smoke test ran 30 s ago
        batch.created -= 30.0
    running.simulator.set_faults(FaultSettings(seed=1, error_rate=0.5, error_statuses=(500,),
                                               scope="send"))
    report = await engine.send(numbers, sender=SENDER, text="Ours", config=settings,
                               credentials=DEMO_CREDENTIALS, preflight=False, wait="accepted",
                               max_batch_bytes=500)
    assert len(report["batches"]) > 2, report["batches"]
    assert report["batches"][0]["attempts"] > 1  # its first POST was lost
    assert not any(b["adopted"] for b in report["batches"])
    assert Counter(ledger_numbers(running)) == Counter([numbers[0], *numbers])
    assert report["rejected"] == []
    assert report["status"] == "completed"


async def test_resume_does_not_adopt_a_smoke_test_sent_before_the_chunk(
    start: Start, tmp_path: Any
) -> None:
    """On resume, a chunk caught in flight is matched only to batches created after its own
    journaled POST, not to a same-text smoke test sent earlier in the run's hour."""
    import json
    from collections import Counter
    from datetime import UTC, datetime

    from tests.e2e.conftest import ledger_numbers

    numbers = [f"+1415555{i:04d}" for i in range(20)]
    path, journal = tmp_path / "list.txt", tmp_path / "run.journal"
    path.write_text("".join(n + "\n" for n in numbers))
    first, settings = await start()
    await engine.send(path, sender=SENDER, text="Ours", config=settings, journal=journal,
                      credentials=DEMO_CREDENTIALS, preflight=False, wait="accepted")
    # the same server (port) restarted with an empty store: the journal's run, whose
    # request never reached it, and nothing else
    running, settings = await start(replacing=first)
    await engine.send(numbers[:1], sender=SENDER, text="Ours", config=settings,
                      credentials=DEMO_CREDENTIALS, preflight=False, wait="accepted")
    for batch in running.simulator.store.batches:  # the smoke test ran 30 s before the POST
        batch.created -= 30.0
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    state = [e for e in entries if e.get("type") == "state"][-1]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with journal.open("a") as handle:  # killed between that POST and its answer
        handle.write(json.dumps({**state, "status": "submitting", "batchId": None,
                                 "submittedAt": now}) + "\n")
    report = await engine.send(resume=journal, config=settings, credentials=DEMO_CREDENTIALS,
                               preflight=False, wait="accepted")
    assert not any(b["adopted"] for b in report["batches"])
    assert Counter(ledger_numbers(running)) == Counter([numbers[0], *numbers])
    assert report["status"] == "completed"


async def test_every_post_answered_503_after_creation_texts_each_recipient_once(
    start: Start
) -> None:
    """Every batch POST created its batch and was answered 503 (a gateway in front): no chunk
    is sent twice, every one is adopted, and nothing is left unknown."""
    faults = FaultSettings(scope="send", error_after_create_rate=1.0,
                           error_after_create_statuses=(503,), gateway_html_rate=1.0)
    running, settings = await start(faults=faults)
    numbers = [f"+1415555{i:04d}" for i in range(200)]
    report = await engine.send(numbers, sender=SENDER, text="Ours", config=settings,
                               credentials=DEMO_CREDENTIALS, max_batch_bytes=1000)
    assert sorted(e[2] for e in running.simulator.store.ledger()) == sorted(numbers)
    assert report["totals"]["adoptedChunks"] == len(report["batches"]) > 1
    assert [b["attempts"] for b in report["batches"]] == [1] * len(report["batches"])
    assert report["status"] == "completed"


async def test_an_answer_held_past_the_timeout_is_adopted_not_resent(start: Start) -> None:
    """The 201 comes after the client stopped waiting: the batch is found and adopted."""
    faults = FaultSettings(seed=3, scope="send", hold_answer_rate=0.5, hold_answer=3.0)
    running, settings = await start(faults=faults)
    settings = replace(settings, retry=replace(settings.retry, request_timeout=0.5,
                                               reconcile_window=1.0))
    numbers = [f"+1415555{i:04d}" for i in range(200)]
    report = await engine.send(numbers, sender=SENDER, text="Ours", config=settings,
                               credentials=DEMO_CREDENTIALS, max_batch_bytes=1000)
    assert sorted(e[2] for e in running.simulator.store.ledger()) == sorted(numbers)
    assert running.simulator.stats["held_answer"] > 0
    assert report["totals"]["adoptedChunks"] > 0
    assert report["status"] == "completed"


async def test_resume_after_the_clock_was_stepped_adopts_the_in_flight_batch(
    start: Start, tmp_path: Any
) -> None:
    """The killed process's clock was 10 min fast (corrected before --resume): its journaled
    submittedAt is placed by the journal's own calibration (createdAt beside submittedAt),
    so the batch its in-flight request made is adopted, not sent twice."""
    import json
    from collections import Counter
    from datetime import datetime, timedelta

    from tests.e2e.conftest import ledger_numbers

    numbers = [f"+1415555{i:04d}" for i in range(40)]
    path, journal = tmp_path / "list.txt", tmp_path / "run.journal"
    path.write_text("".join(n + "\n" for n in numbers))
    running, settings = await start()
    await engine.send(path, sender=SENDER, text="Ours", config=settings, journal=journal,
                      credentials=DEMO_CREDENTIALS, preflight=False, wait="accepted",
                      max_batch_bytes=500)

    def fast(stamp: str) -> str:
        return (datetime.fromisoformat(stamp) + timedelta(seconds=600)).isoformat()

    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    for entry in entries:
        if entry.get("submittedAt"):
            entry["submittedAt"] = fast(entry["submittedAt"])
    last = [e for e in entries if e.get("type") == "state"][-1]
    assert last["status"] == "accepted"
    # killed between the last chunk's POST (which created its batch) and the answer
    entries.append({**last, "status": "submitting", "batchId": None, "createdAt": None})
    journal.write_text("".join(json.dumps(e) + "\n" for e in entries))
    report = await engine.send(resume=journal, config=settings, credentials=DEMO_CREDENTIALS,
                               preflight=False, wait="accepted")
    assert Counter(ledger_numbers(running)) == Counter(numbers)  # each once
    assert [b["chunk"] for b in report["batches"] if b["adopted"]] == [last["chunk"]]
    assert report["status"] == "completed"


@pytest.mark.parametrize("faults", [{"gateway_4xx_rate": 0.3},
                                    {"unreadable_2xx_rate": 0.3}], ids=["4xx", "2xx"])
async def test_a_gateways_own_page_strands_nobody(start: Start, faults: dict[str, Any]) -> None:
    """A gateway's 408/403/404 page or its unreadable 2xx (HTML 200, 201 cut short): each
    chunk is reconciled and adopted or resent, so everyone is texted once, nobody unknown."""
    running, settings = await start(faults=FaultSettings(seed=3, scope="send", **faults))
    settings = replace(settings, retry=replace(settings.retry, reconcile_window=1.0,
                                               backoff_initial=0.1, backoff_max=0.3))
    numbers = [f"+1415555{i:04d}" for i in range(200)]
    report = await engine.send(numbers, sender=SENDER, text="Ours", config=settings,
                               credentials=DEMO_CREDENTIALS, max_batch_bytes=1000,
                               wait="accepted")
    assert sorted(e[2] for e in running.simulator.store.ledger()) == sorted(numbers)
    assert report["totals"]["unknownChunks"] == 0
    assert report["status"] == "completed"
    stats = running.simulator.stats
    assert stats["gateway_4xx"] + stats["unreadable_200"] + stats["truncated_201"] > 0
