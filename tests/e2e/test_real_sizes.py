"""At real sizes: 80,000 rows in 400 KB bodies, each 201 answer carrying over a thousand
server rejections and arriving in many pieces; every rejection lands at its input position,
also for batches whose answer was lost and that were adopted."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.core.policy import LOST_CODE
from engine.simulator import FaultSettings
from tests.e2e.conftest import SENDER, Start, ledger_numbers
from tests.lists import any_country, scattered

ROWS = 80_000
BODY_BYTES = 400_000


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("lost", [0.0, 0.5], ids=["answers-read", "half-the-answers-lost"])
async def test_80000_rows_report_every_server_rejection_at_its_position(
    start: Start, tmp_path: Path, lost: float
) -> None:
    """10 % server-only rejections in 400 KB bodies (over 1,000 a body): the report lists each
    at its original position, and totals match the server's ledger."""
    faults = FaultSettings(seed=3, scope="a2p", answer_piece=16 * 1024, answer_pause=0.0002,
                           accept_drop_rate=lost)
    running, settings = await start(faults=faults, messages_per_second=200_000.0)
    settings = replace(settings, retry=replace(settings.retry, reconcile_window=0.5))
    numbers, local, server = scattered(ROWS, random.Random(80), bad=0.05)
    numbers = [n if i not in local else f"+4420{i:08d}" for i, n in enumerate(numbers)]
    server |= local  # every bad number reaches the server: only it can reject them
    path = tmp_path / "list.csv"
    path.write_text("to\n" + "".join(f"{n}\n" for n in numbers))
    per_chunk: list[int] = []

    async def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "chunk_submitted" and "adopted" not in str(event):
            per_chunk.append(event["rejected"])

    report = await engine.send(path, sender=SENDER, text="Real sizes", config=settings,
                               read=any_country("Real sizes"),
                               credentials=DEMO_CREDENTIALS, max_batch_bytes=BODY_BYTES,
                               on_event=on_event)
    valid = [n for i, n in enumerate(numbers) if i not in server]
    assert sorted(ledger_numbers(running)) == sorted(valid)  # each once
    assert report["status"] == "completed"
    assert {r["index"] for r in report["rejected"]} == server
    assert all(r["to"] == numbers[r["index"]] for r in report["rejected"])
    totals = report["totals"]
    assert (totals["sent"], totals["rejectedServer"]) == (len(valid), len(server))
    assert len(report["batches"]) >= 5
    if lost:
        adopted = [b for b in report["batches"] if b["adopted"]]
        assert adopted
        recovered = [r for r in report["rejected"] if r["errorCode"] == LOST_CODE]
        assert len(recovered) > 1000 * len(adopted) - 1
    else:
        assert min(per_chunk[:-1]) > 1000  # every full body's answer held over a thousand
