"""Resuming from the journal: nothing accepted is sent again, nothing is lost, and the final
report is the one an uninterrupted run would have written."""

from __future__ import annotations

import random
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import anyio
import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.core.policy import LOST_CODE
from engine.errors import JournalError
from engine.types import Report
from tests.e2e.conftest import SENDER, Start, ledger_numbers
from tests.lists import any_country, scattered


def write_list(path: Path, n: int) -> tuple[list[str], set[int], set[int]]:
    """A CSV of n recipients with bad ones scattered: malformed (local), +44 (server)."""
    numbers, local, server = scattered(n, random.Random(n), bad=0.03)
    path.write_text("to,name\n" + "".join(f"{n},N{i}\n" for i, n in enumerate(numbers)))
    return numbers, local, server


async def send(path: Path, settings: engine.Settings, **options: Any) -> Report:
    options = {"text": "Hi", "max_batch_bytes": 1500, "concurrency": 2, **options}
    options.setdefault("read", any_country(options["text"]))
    return await engine.send(path, sender=SENDER, config=settings,
                             credentials=DEMO_CREDENTIALS, **options)


def stop_after(accepted: int) -> tuple[anyio.Event, Any]:
    stop = anyio.Event()
    seen = []

    async def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "chunk_submitted":
            seen.append(event)
            if len(seen) >= accepted:
                stop.set()

    return stop, on_event


def check(report: Report, running: Any, numbers: list[str], local: set[int],
          server: set[int], lost: AbstractSet[int] = frozenset()) -> None:
    """Ledger: each valid recipient exactly once. Report: every rejection but those of an
    adopted batch (``lost``), and totals that add up."""
    valid = [n for i, n in enumerate(numbers) if i not in local | server]
    assert sorted(ledger_numbers(running)) == sorted(valid)
    assert {r["index"] for r in report["rejected"] if r["source"] == "local"} == local
    assert {r["index"] for r in report["rejected"] if r["source"] == "server"} == server - lost
    totals = report["totals"]
    assert totals["records"] == len(numbers)
    assert totals["sent"] + totals["rejectedLocal"] + totals["rejectedServer"] == len(numbers)
    assert report["status"] == "completed"


async def test_resume_after_a_stop_finishes_the_run_exactly_once(start: Start,
                                                                 tmp_path: Path) -> None:
    """Stopped after two batches, resumed: every valid recipient once, rejections complete."""
    running, settings = await start()
    path, journal = tmp_path / "list.csv", tmp_path / "run.journal"
    numbers, local, server = write_list(path, 600)
    stop, on_event = stop_after(2)
    first = await send(path, settings, journal=journal, stop=stop, on_event=on_event)
    assert first["interrupted"]
    assert 0 < len(ledger_numbers(running)) < len(numbers) - len(local) - len(server)
    report = await send(path, settings, resume=journal)
    check(report, running, numbers, local, server)
    assert report["runId"] == first["runId"]


async def test_a_request_in_flight_at_the_crash_is_reconciled_not_resent(
    start: Start, tmp_path: Path
) -> None:
    """Killed between a POST and its answer: the batch exists on the server, so resume finds
    and adopts it instead of sending its recipients again."""
    running, settings = await start()
    path, journal = tmp_path / "list.csv", tmp_path / "run.journal"
    numbers, local, server = write_list(path, 400)
    stop, on_event = stop_after(3)
    await send(path, settings, journal=journal, stop=stop, on_event=on_event)
    lines = journal.read_bytes().splitlines(keepends=True)
    accepted = max(i for i, line in enumerate(lines) if b'"status":"accepted"' in line)
    journal.write_bytes(b"".join(lines[:accepted]))  # as if killed before writing it
    report = await send(path, settings, resume=journal)
    check(report, running, numbers, local, server)  # the adopted batch's rejections too
    adopted = [b for b in report["batches"] if b["adopted"]]
    assert adopted
    assert report["totals"]["adoptedChunks"] == len(adopted)
    recovered = {r["index"] for r in report["rejected"] if r["errorCode"] == LOST_CODE}
    inside = {i for b in adopted for i in server if b["firstIndex"] <= i <= b["lastIndex"]}
    assert recovered == inside
    assert all(r["batchId"] == adopted[0]["batchId"] for r in report["rejected"]
               if r["errorCode"] == LOST_CODE)


async def stopped_run(start: Start, tmp_path: Path) -> tuple[engine.Settings, Path, Path]:
    """A run of 100 recipients stopped after its first batch: (settings, list, journal)."""
    _, settings = await start()
    path, journal = tmp_path / "list.csv", tmp_path / "run.journal"
    write_list(path, 100)
    stop, on_event = stop_after(1)
    await send(path, settings, journal=journal, stop=stop, on_event=on_event)
    return settings, path, journal


async def test_resume_alone_takes_input_sender_and_text_from_the_journal(
    start: Start, tmp_path: Path
) -> None:
    """engine.send(resume=path) with no recipients, sender or text finishes the run; a
    sender given again that differs is refused."""
    running, settings = await start()
    path, journal = tmp_path / "list.csv", tmp_path / "run.journal"
    numbers, local, server = write_list(path, 300)
    stop, on_event = stop_after(1)
    await send(path, settings, journal=journal, stop=stop, on_event=on_event, text="Journal")
    with pytest.raises(JournalError, match="sender"):
        await engine.send(resume=journal, sender="+16505550101", config=settings,
                          credentials=DEMO_CREDENTIALS)
    report = await engine.send(resume=journal, config=settings, credentials=DEMO_CREDENTIALS)
    check(report, running, numbers, local, server)
    assert {entry[3] for entry in running.simulator.store.ledger()} == {"Journal"}


async def test_resume_refuses_a_changed_input(start: Start, tmp_path: Path) -> None:
    """A file changed since the journal was written is refused, naming what changed."""
    settings, path, journal = await stopped_run(start, tmp_path)
    with path.open("a") as handle:
        handle.write("+14155550999,X\n")
    with pytest.raises(JournalError, match="changed since the journal"):
        await send(path, settings, resume=journal)


async def test_resume_refuses_another_sender_or_text(start: Start, tmp_path: Path) -> None:
    """A journal of another sender or text is refused, never guessed."""
    settings, path, journal = await stopped_run(start, tmp_path)
    with pytest.raises(JournalError, match="text"):
        await send(path, settings, resume=journal, text="Other")


async def test_chunks_that_gave_up_on_the_network_are_sent_on_resume(start: Start,
                                                                      tmp_path: Path) -> None:
    """The server failing (a 503 on every POST, creating nothing) until the attempts ran out:
    those chunks were proved absent, so they are not final; resuming once it is back sends
    them, each exactly once."""
    from dataclasses import replace

    from engine.simulator import FaultSettings

    running, settings = await start(faults=FaultSettings(error_rate=1.0, error_statuses=(503,),
                                                         scope="send"))
    settings = replace(settings, retry=replace(settings.retry, max_attempts=2))
    path, journal = tmp_path / "list.csv", tmp_path / "run.journal"
    numbers, local, server = write_list(path, 300)
    first = await send(path, settings, journal=journal)
    assert first["status"] == "failed"
    assert ledger_numbers(running) == []
    running.simulator.set_faults(FaultSettings())
    report = await send(path, settings, resume=journal)
    check(report, running, numbers, local, server)


def dedupe_list(path: Path) -> list[str]:
    """300 numbers, then the first one again at the very end."""
    numbers = [f"+1415555{i:04d}" for i in range(300)]
    path.write_text("".join(n + "\n" for n in [*numbers, numbers[0]]))
    return numbers


async def test_resuming_a_dedupe_run_never_texts_an_earlier_number_again(
    start: Start, tmp_path: Path
) -> None:
    """--dedupe, stopped and resumed: a number seen before the stop is still a duplicate."""
    from engine.reading import ReadOptions

    running, settings = await start()
    path, journal = tmp_path / "list.txt", tmp_path / "run.journal"
    numbers = dedupe_list(path)
    stop, on_event = stop_after(2)
    read = ReadOptions(batch_text="Hi", dedupe=True)
    await send(path, settings, read=read, concurrency=1, journal=journal, stop=stop,
               on_event=on_event)
    report = await send(path, settings, read=read, concurrency=1, resume=journal)
    assert sorted(ledger_numbers(running)) == numbers  # each exactly once
    assert [(r["index"], r["errorCode"]) for r in report["rejected"]] == \
        [(300, "LCL-DUPLICATE")]


async def test_a_dedupe_chunk_in_flight_at_the_crash_is_rebuilt_and_adopted(
    start: Start, tmp_path: Path
) -> None:
    """--dedupe, killed mid-request on the last chunk: resume rebuilds it (the duplicate of an
    earlier number left out) and adopts its batch instead of refusing the journal."""
    import json

    from engine.reading import ReadOptions

    running, settings = await start()
    path, journal = tmp_path / "list.txt", tmp_path / "run.journal"
    numbers = dedupe_list(path)
    read = ReadOptions(batch_text="Hi", dedupe=True)
    await send(path, settings, read=read, concurrency=1, journal=journal, wait="accepted")
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    last = max(e["chunk"] for e in entries if e.get("type") == "chunk")
    with journal.open("a") as handle:  # as if killed between its POST and the answer
        state = [e for e in entries if e.get("chunk") == last and e["type"] == "state"][-1]
        handle.write(json.dumps({**state, "status": "submitting", "batchId": None}) + "\n")
    report = await send(path, settings, read=read, concurrency=1, resume=journal,
                        wait="accepted")
    assert sorted(ledger_numbers(running)) == numbers  # nothing sent again
    assert [b["adopted"] for b in report["batches"] if b["chunk"] == last] == [True]


async def test_a_resumed_chunk_spanning_an_accepted_one_is_rebuilt_without_it(
    start: Start, tmp_path: Path
) -> None:
    """Resumed with a larger --max-batch-bytes, a chunk spans one accepted before; a lost
    answer rebuilds it without that chunk's records, and each held recipient is sent once."""
    import json

    from engine.simulator import FaultSettings

    first, settings = await start()
    path, journal = tmp_path / "list.txt", tmp_path / "run.journal"
    numbers = [f"+1415555{i:04d}" for i in range(300)]
    path.write_text("".join(n + "\n" for n in numbers))
    await send(path, settings, concurrency=1, journal=journal, wait="accepted")
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    held = [e for e in entries if e.get("type") == "chunk" and e["chunk"] in (2, 4)]
    with journal.open("a") as handle:  # what a stop leaves: chunks 2 and 4 held, 3 accepted
        for number in (2, 4):
            state = [e for e in entries if e.get("chunk") == number and e["type"] == "state"][-1]
            handle.write(json.dumps({**state, "status": "planned", "batchId": None,
                                     "batchSize": None}) + "\n")
    # the resumed run's first POSTs are lost (500s that created nothing), then one goes
    # through: reconciliation proves each absent, so the chunk is rebuilt and sent again.
    # The same server (port) restarted with an empty store: what the journal says is all.
    running, settings = await start(replacing=first, faults=FaultSettings(
        seed=1, error_rate=0.5, error_statuses=(500,), scope="send"))
    report = await send(path, settings, resume=journal, max_batch_bytes=3000, wait="accepted")
    resumed = [b for b in report["batches"] if b["chunk"] > 5]
    assert [(b["firstIndex"], b["lastIndex"]) for b in resumed] == [(60, 239)]
    assert resumed[0]["attempts"] > 1  # its answer was lost, so it was rebuilt from the file
    expected = [n for e in held for n in numbers[e["firstIndex"]:e["lastIndex"] + 1]]
    assert sorted(ledger_numbers(running)) == sorted(expected)  # chunks 2 and 4, once each
    assert report["status"] == "completed"


async def test_chunks_failed_proved_absent_in_an_outage_are_sent_once_after_it_heals(
    start: Start, tmp_path: Path
) -> None:
    """Every batch POST answered 503 and nothing created: each chunk is reconciled, proved
    absent, and failed at its chunk deadline; outcomes lists its recipients as not-sent and
    retryable; once the outage heals, one --resume texts every valid recipient exactly once
    and outcomes lists none of them as not-sent any more."""
    from dataclasses import replace

    from engine.simulator import FaultSettings

    running, settings = await start(faults=FaultSettings(outage_status=503, scope="send",
                                                         gateway_retry_after=0))
    settings = replace(settings, retry=replace(settings.retry, reconcile_window=0.2,
                                               chunk_deadline=0.5))
    path, journal = tmp_path / "list.csv", tmp_path / "run.journal"
    numbers, local, server = write_list(path, 300)
    first = await send(path, settings, journal=journal)
    assert first["status"] == "failed"
    assert {(b["status"], b["reason"]) for b in first["batches"]} == \
        {("failed", "proved-absent")}
    assert all(b["attempts"] < settings.retry.max_attempts for b in first["batches"])
    assert ledger_numbers(running) == []
    rows = [row async for row in engine.outcomes(journal, config=settings,
                                                 credentials=DEMO_CREDENTIALS)]
    unsent = [r for r in rows if r.position not in local]
    assert {(r.outcome, r.retryable) for r in unsent} == {("not-sent", True)}
    assert len(unsent) == len(numbers) - len(local)
    running.simulator.set_faults(FaultSettings())  # the outage heals
    report = await send(path, settings, resume=journal)
    check(report, running, numbers, local, server)
    rows = [row async for row in engine.outcomes(journal, config=settings,
                                                 credentials=DEMO_CREDENTIALS)]
    assert len(rows) == len(numbers)
    assert not [r for r in rows if r.outcome == "not-sent" or (r.retryable and
                r.outcome not in ("delivery-failed", "sending-failed"))]  # all texted once


@pytest.mark.parametrize("pick", [1, 2, 3, 4, 5])
async def test_a_second_resume_after_a_chunk_recovered_among_re_cut_ones_texts_nobody_twice(
        start: Start, tmp_path: Path, pick: int) -> None:
    """A kill with one chunk in flight among chunks failed in an outage: the first resume
    recovers that chunk and re-cuts the others under another byte limit, so a re-cut chunk
    spans it. Outcomes then agree with the report, and the next --resume (as the README
    advises, e.g. to settle pending recipients) texts nobody again."""
    from collections import Counter
    from dataclasses import replace

    import orjson

    from engine.run.journal import read_journal
    from engine.simulator import FaultSettings

    running, settings = await start(faults=FaultSettings(outage_status=503, scope="send",
                                                         gateway_retry_after=0))
    settings = replace(settings, retry=replace(settings.retry, reconcile_window=0.2,
                                               chunk_deadline=0.5))
    path, journal = tmp_path / "list.csv", tmp_path / "run.journal"
    rng = random.Random(pick)
    numbers = [f"+1415555{i:04d}" if rng.random() < 0.7 else f"+1212555{i:04d}"
               for i in range(300)]
    numbers = [n if rng.random() < 0.6 else "+4477009" + n[-6:] for n in numbers]  # sizes vary
    path.write_text("to,name\n" + "".join(f"{n},N{i}\n" for i, n in enumerate(numbers)))
    first = await send(path, settings, journal=journal)
    assert first["status"] == "failed"
    assert ledger_numbers(running) == []
    chunks = sorted(read_journal(journal).chunks)
    middle = chunks[min(pick, len(chunks) - 2)]
    entry = dict(read_journal(journal).chunks[middle])  # what a SIGKILL mid-POST leaves
    entry.update(type="state", status="submitting", reason=None)
    with journal.open("ab") as handle:
        handle.write(orjson.dumps(entry) + b"\n")
    running.simulator.set_faults(FaultSettings())  # the outage heals
    second = await send(path, settings, resume=journal, max_batch_bytes=1100)
    texted = Counter(ledger_numbers(running))
    assert max(texted.values()) == 1
    # the case arose: a re-cut chunk spans the recovered one (journaled as its gap)
    assert any(e.get("gaps") for e in read_journal(journal).chunks.values())
    rows = [row async for row in engine.outcomes(journal, config=settings,
                                                 credentials=DEMO_CREDENTIALS)]
    count = Counter(row.outcome for row in rows)
    assert len(rows) == len(numbers)
    assert count["not-sent"] == count["unknown"] == 0
    assert count["rejected-server"] == second["totals"]["rejectedServer"]
    third = await send(path, settings, resume=journal)
    assert third["status"] == "completed"
    assert Counter(ledger_numbers(running)) == texted  # nobody texted again
