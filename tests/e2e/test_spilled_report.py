"""A send whose list is mostly bad: every rejection spilled to disk as it happens and merged
back into the report, sorted, complete and the same as the events told."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.run.spill import SUFFIX
from tests.e2e.conftest import SENDER, Start, ledger_numbers
from tests.lists import any_country, scattered


async def test_a_mostly_bad_list_reports_every_rejection_sorted_and_as_told(
        start: Start, tmp_path: Path) -> None:
    """4,000 recipients, about 30 % rejected locally and 30 % by the server over dozens of
    chunks answering out of order: the report's ``rejected`` is sorted by position, holds
    each rejection once, equals the rejected events, and the library's view of it reads
    the same; the spill beside the journal is gone afterwards."""
    running, settings = await start()
    items, local, server = scattered(4_000, random.Random(11), bad=0.3)
    events: list[dict[str, Any]] = []

    async def collect(event: dict[str, Any]) -> None:
        events.append(event)

    journal, path = tmp_path / "run.journal", tmp_path / "report.json"
    report = await engine.send(items, sender=SENDER, text="Hi", config=settings,
                               credentials=DEMO_CREDENTIALS, on_event=collect,
                               read=any_country("Hi"), max_batch_bytes=3_000,
                               concurrency=4, journal=journal, report=path)
    written = orjson.loads(path.read_bytes())["rejected"]
    positions = [r["index"] for r in written]
    assert positions == sorted(local | server)
    assert {r["index"] for r in written if r["source"] == "local"} == local
    assert {r["index"] for r in written if r["source"] == "server"} == server
    told = sorted((e for e in events if e["event"] == "rejected"), key=lambda e: e["index"])
    assert [(e["index"], e["errorCode"], e["source"], e["batchId"], e["to"]) for e in told] == \
        [(r["index"], r["errorCode"], r["source"], r["batchId"], r["to"]) for r in written]
    assert len(report["rejected"]) == len(written)
    assert list(report["rejected"]) == written
    assert report["totals"]["rejectedLocal"] == len(local)
    assert report["totals"]["rejectedServer"] == len(server)
    assert len(report["batches"]) > 20
    assert sorted(ledger_numbers(running)) == sorted(
        n for i, n in enumerate(items) if i not in local | server)
    assert f"run.journal{SUFFIX}" not in files_in(tmp_path)
    # beside the journal: the opt-outs read before the first POST (engine/run/consent.py)
    assert files_in(tmp_path) == ["report.json", "run.journal", "run.journal.consents"]


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_local_rejections_are_flushed_in_bounded_pieces_while_a_chunk_fills(
        start: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file whose one batch spans many bad rows, read before the journal opens (with the
    first batch): its local rejections reach the journal in pieces of at most FLUSH_AT (held
    on disk till then), not all at once; the report holds every one, once, in order."""
    monkeypatch.setattr("engine.run.localqueue.FLUSH_AT", 100)
    running, settings = await start()
    path, journal, report_path = (tmp_path / "l.txt", tmp_path / "j.journal",
                                  tmp_path / "r.json")
    path.write_text("".join(f"+1415555{i:04d}\n" if i % 10 == 0 else f"bad{i}\n"
                            for i in range(2_000)))
    report = await engine.send(path, sender=SENDER, text="Hi", config=settings,
                               credentials=DEMO_CREDENTIALS, journal=journal,
                               report=report_path)
    pieces = [len(entry["rejected"]) for entry in journal_entries(journal)
              if entry.get("type") == "local"]
    assert sum(pieces) == 1_800
    assert len(pieces) >= 18
    assert max(pieces) <= 100
    assert len(report["batches"]) == 1
    assert [r["index"] for r in report["rejected"]] == [i for i in range(2_000) if i % 10]
    assert len(ledger_numbers(running)) == 200


def journal_entries(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
