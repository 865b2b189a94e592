"""The progress line's count of records read moves on a list of bad rows before any batch is
cut: the reader's rejections, handed on every 8,192, report progress as they go."""

from __future__ import annotations

from pathlib import Path

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from tests.e2e.conftest import SENDER, Start


async def test_read_progress_counts_rejected_rows_before_the_first_batch(
        start: Start, tmp_path: Path) -> None:
    """30,000 invalid rows, then 100 valid ones: the count is reported as the bad rows are
    read (8,192, 16,384, 24,576), not only once the one batch is cut at the end."""
    _, settings = await start()
    listing = tmp_path / "list.csv"
    listing.write_text("to\n" + "not-a-number\n" * 30_000
                       + "".join(f"+1415555{k:04d}\n" for k in range(100)))
    seen: list[int] = []

    def on_read(records: int, share: float | None) -> None:
        seen.append(records)

    report = await engine.send(listing, sender=SENDER, text="Hi", config=settings,
                               credentials=DEMO_CREDENTIALS, on_read=on_read,
                               preflight=False, consent=False)
    assert report["totals"]["rejectedLocal"] == 30_000
    assert [n for n in seen if n < 30_000] == [8_192, 16_384, 24_576]
    assert max(seen) == 30_100
