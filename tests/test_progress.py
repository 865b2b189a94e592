"""The stderr progress line: what it counts, and how often it speaks off a terminal."""

from __future__ import annotations

import io

from engine.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_progress_line_every_few_seconds_with_eta() -> None:
    """Off a terminal: one line at most every 5 s, with read, sent, rejected, rate and ETA."""
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, clock)
    progress.reading(1000, 0.25)
    progress.see({"event": "chunk_submitted", "batchSize": 990})
    progress.see({"event": "rejected"})
    assert stream.getvalue() == ""
    clock.now = 10.0
    progress.see({"event": "batch_completed"})
    line = stream.getvalue().strip()
    assert line.startswith("read 1,000 | sent 990 | rejected 1 | batches 1 accepted, 1 completed")
    assert "99/s" in line
    assert "ETA 30 s" in line
    progress.see({"event": "summary"})
    assert len(stream.getvalue().splitlines()) == 2
