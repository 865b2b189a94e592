"""--dedupe across a stop: a journal written before the "number" rule (``"dedupe": true``) is
resumed with the rule it was read with, number and text together."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.reading import ReadOptions
from tests.e2e.conftest import SENDER, Start


def personal_list(path: Path) -> list[tuple[str, str]]:
    """300 people, then the first number again under another name at the very end."""
    rows = [(f"+1415555{i:04d}", f"Hi N{i}") for i in range(300)]
    rows.append((rows[0][0], "Hi Ann"))
    path.write_text("to,text\n" + "".join(f"{to},{text}\n" for to, text in rows))
    return rows


def as_before_the_number_rule(journal: Path) -> None:
    """Rewrite the journal's read header as an engine before ``--dedupe number`` wrote it."""
    lines = journal.read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    header = next(e for e in entries if "read" in e)
    assert header["read"]["dedupe"] == "message"
    header["read"]["dedupe"] = True
    journal.write_text("".join(json.dumps(e) + "\n" for e in entries))


async def test_an_old_dedupe_journal_resumes_by_number_and_text(
    start: Start, tmp_path: Path
) -> None:
    """A journal whose header says "dedupe": true (written before the rules had names) is
    resumed by number and text, as it was read: the second text for the first number, after
    the stop, is sent, and every message exactly once."""
    running, settings = await start()
    path, journal = tmp_path / "list.csv", tmp_path / "run.journal"
    rows = personal_list(path)
    stop, seen = anyio.Event(), []

    async def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "chunk_submitted":
            seen.append(event)
            if len(seen) >= 2:
                stop.set()

    common: dict[str, Any] = {"sender": SENDER, "config": settings,
                              "credentials": DEMO_CREDENTIALS, "max_batch_bytes": 1500,
                              "concurrency": 1}
    await engine.send(path, read=ReadOptions(dedupe="message"), journal=journal, stop=stop,
                      on_event=on_event, **common)
    as_before_the_number_rule(journal)
    report = await engine.send(path, resume=journal, **common)
    ledger = sorted((to, text) for _, _, to, text in running.simulator.store.ledger())
    assert ledger == sorted(rows)
    assert report["rejected"] == []
    assert report["totals"]["sent"] == len(rows)
