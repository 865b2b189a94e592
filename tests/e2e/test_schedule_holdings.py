"""A scheduled round over an interleaved list leaves out every other recipient: its chunks
journal what they hold as a compressed bitmap (``held``), not one gap per recipient left out,
and a resume keeps it as bitmaps, not one range per recipient (H3). Kills with a chunk in
flight, resumed in a later round, still text everyone once, and ``a2p outcomes`` gives each
chunk exactly its messages."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.core.aggregator import Aggregator
from engine.core.holdings import GAPS_MAX
from engine.results.export import Export
from engine.run.journal import read_journal
from engine.run.resume import restore
from engine.simulator import start_simulator
from engine.types import Report
from tests.conftest import sim_settings
from tests.e2e.conftest import SENDER, engine_settings, ledger_numbers
from tests.e2e.killing import Killer, send_or_resume
from tests.e2e.test_schedule_rounds import FakeTime

# Friday 2026-11-20 09:05 Eastern = 08:05 Central = 06:05 Pacific: Pacific is closed (five
# minutes past Central's opening: both open windows in one round)
NINE_EASTERN = datetime(2026, 11, 20, 9, 5, tzinfo=ZoneInfo("America/New_York"))
AREAS = {"212": "America/New_York", "312": "America/Chicago", "415": "America/Los_Angeles"}
OPEN = ("212", "312")  # at 09:05 Eastern


def chunk_entries(journal: Path) -> list[dict[str, Any]]:
    return [e for e in map(orjson.loads, journal.read_bytes().splitlines())
            if isinstance(e, dict) and e.get("type") == "chunk"]


async def first_round(tmp_path: Path, numbers: list[str], **options: Any) -> Path:
    """A scheduled send of ``numbers`` at 09:05 Eastern that stops when its round is done
    (exit_when_waiting): the journal."""
    (tmp_path / "list.csv").write_text("to\n" + "\n".join(numbers) + "\n")
    time = FakeTime(NINE_EASTERN)
    running = await start_simulator(sim_settings(messages_per_second=1e6),
                                    clock=lambda: time.t)
    journal = tmp_path / "run.journal"
    try:
        report = await engine.send(tmp_path / "list.csv", sender=SENDER, text="Hi",
                                   config=engine_settings(running.url),
                                   credentials=DEMO_CREDENTIALS, wall=time.wall,
                                   clock=time.clock, sleep=time.sleep, journal=journal,
                                   quiet_hours="tcpa", exit_when_waiting=True, **options)
    finally:
        await running.stop()
    assert report["schedule"]["state"] == "waiting"
    assert report["totals"]["sent"] == sum(n[2:5] in OPEN for n in numbers)
    return journal


@pytest.mark.parametrize("rows", [20_000, 200_000])
async def test_an_interleaved_round_journals_and_restores_a_bit_a_position(
        tmp_path: Path, rows: int) -> None:
    """Every other recipient left out: each chunk entry journals a bitmap of a few dozen
    bytes (not ``rows / 2`` gaps), and a resume holds a bit a position of the chunks' ranges,
    one lookup entry a chunk, answering which chunk holds each position exactly."""
    numbers = [f"+1{'212' if i % 2 else '415'}{2_000_000 + i:07d}" for i in range(rows)]
    journal = await first_round(tmp_path, numbers)
    entries = chunk_entries(journal)
    assert entries
    assert all(len(e.get("gaps") or ()) <= GAPS_MAX for e in entries)
    for entry in entries:
        span = entry["lastIndex"] - entry["firstIndex"] + 1
        line = len(orjson.dumps(entry))
        # compressed: a regular pattern takes a few dozen bytes; never more than the bitmap
        assert line < 400
        assert len(entry["held"]) < span // 8 * 4 // 3 + 64
        assert line * 100 < 14 * (entry["messages"] - 1)  # one gap ~ 14 bytes: far below
    assert journal.stat().st_size < 10_000  # the whole journal, ~133,763 for 20,000 before
    plan = restore(read_journal(journal), Aggregator())
    holdings = plan.holdings
    assert holdings.nbytes <= rows // 8 + 200 * len(entries)  # a bit a position at most
    assert sum(len(layer.entries) for layer in holdings.layers) == len(entries)
    held = [holdings.holder(p) for p in range(rows)]
    assert all((n is not None) == (p % 2 == 1) for p, n in enumerate(held))
    assert not [e for e in entries if e["messages"] != Counter(held)[e["chunk"]]]


async def test_a_randomly_interleaved_round_journals_at_most_a_bit_a_position(
        tmp_path: Path) -> None:
    """Zones in random order (no run-length pattern): each chunk entry still journals at
    most about a bit a position of its range (compressed, base64), and a resume's holdings
    say exactly which recipients each chunk holds."""
    rng = random.Random(22)
    areas = [rng.choice(list(AREAS)) for _ in range(20_000)]
    numbers = [f"+1{area}{2_000_000 + i:07d}" for i, area in enumerate(areas)]
    journal = await first_round(tmp_path, numbers, max_batch_messages=2_000)
    entries = chunk_entries(journal)
    assert len(entries) == 7  # 13,341 recipients open, 2,000 a batch
    assert all("held" in e for e in entries)
    for entry in entries:
        span = entry["lastIndex"] - entry["firstIndex"] + 1
        assert len(entry["held"]) <= (span // 8 + 64) * 4 // 3 + 4
    plan = restore(read_journal(journal), Aggregator())
    opened = {p for p, area in enumerate(areas) if area in OPEN}
    held = {p for p in range(len(areas)) if plan.holdings.holder(p) is not None}
    assert held == opened
    assert plan.holdings.nbytes <= len(areas) // 8 + 200 * len(entries)


def cut_last_answer(journal: Path) -> int:
    """The journal as a kill right after the last chunk's POST left it (the answer never
    journaled): the lines from that chunk's ``accepted`` on are dropped. The chunk's number."""
    lines = journal.read_bytes().splitlines(keepends=True)
    last = max(k for k, line in enumerate(lines) if b'"status":"submitting"' in line)
    number = orjson.loads(lines[last])["chunk"]
    journal.write_bytes(b"".join(lines[:last + 1]))
    return int(number)


async def test_kills_with_a_chunk_in_flight_resumed_in_later_rounds_text_everyone_once(
        tmp_path: Path) -> None:
    """An interleaved list (Eastern, Central, Pacific, Hawaii in random order), batches of
    40 (each a bitmap: more left-out recipients than gaps kept as ranges): killed in the
    09:05 Eastern round with a chunk's answer lost, resumed after Pacific opens, killed again
    the same way, resumed (Hawaii opens later): every recipient texted exactly once
    (simulator ledger), each lost chunk found (not sent again), and ``a2p outcomes`` rows
    per batch equal its messages."""
    rng = random.Random(7)
    # two Hawaii numbers in three (open from 13:00 Eastern): a batch of 40 open ones has
    # more holes than GAPS_MAX in every round before
    numbers = [f"+1{rng.choices([*AREAS, '808'], (1, 1, 1, 6))[0]}{2_000_000 + i:07d}"
               for i in range(1_200)]
    (tmp_path / "list.csv").write_text("to\n" + "\n".join(numbers) + "\n")
    time = FakeTime(NINE_EASTERN)
    running = await start_simulator(sim_settings(messages_per_second=1e6),
                                    clock=lambda: time.t)
    settings = engine_settings(running.url)
    journal = tmp_path / "run.journal"
    kills, lost = [4, 12], []
    killer = Killer(kills)
    reports: list[Report] = []
    try:
        for attempt in range(6):
            report = await killer.attempt(send_or_resume(
                attempt, tmp_path / "list.csv", journal, settings, time,
                {"quiet_hours": "tcpa"}, max_batch_messages=40, concurrency=1))
            reports += [report] if report is not None else []
            if reports and reports[-1]["schedule"]["state"] == "done":
                break
            lost.append(cut_last_answer(journal))
            state = read_journal(journal)
            assert state.chunks[lost[-1]]["status"] == "submitting"
            assert "held" in state.chunks[lost[-1]]  # its members: a bitmap
            if attempt == 0:
                assert time.now().astimezone(ZoneInfo(AREAS["415"])).hour < 8
                time.t = (NINE_EASTERN + timedelta(hours=2, minutes=30)).timestamp()
        assert not kills
        assert len(lost) == 2
        assert reports[-1]["schedule"]["state"] == "done"
        assert Counter(ledger_numbers(running)) == Counter(numbers)  # everyone, once
        state = read_journal(journal)
        assert all(state.chunks[n].get("batchId") for n in lost)  # found, not resent
        sizes = {c["batchId"]: c["messages"] for c in state.chunks.values()
                 if c.get("status") in ("accepted", "completed")}
        assert sum(sizes.values()) == len(numbers)
        async with Export(journal, config=settings, credentials=DEMO_CREDENTIALS,
                          wall=time.wall) as export:
            rows = [row async for row in export.rows()]
        assert len(rows) == len(numbers)
        assert Counter(row.batchId for row in rows) == Counter(sizes)
        sent_by = {row.to: row.batchId for row in rows}
        ledger = {entry[2]: entry[0] for entry in running.simulator.store.ledger()}
        assert sent_by == {to: ledger[to] for to in numbers}  # each row its own batch
    finally:
        await running.stop()
