"""The stderr progress line: what it counts, and how often it speaks off a terminal."""

from __future__ import annotations

import io

from engine.cli.progress import Progress
from engine.run.events import (
    BatchCompleted,
    ChunkFailed,
    ChunkSubmitted,
    Rejected,
    StatusCounts,
    Summary,
    Totals,
)


def submitted(batch_size: int) -> ChunkSubmitted:
    return ChunkSubmitted(1, "b1", 0, batch_size - 1, batch_size, batch_size, 1000, 1, 0)


REJECTED = Rejected(3, 4, "+1", "LCL-EMPTY-TO", "empty", None, "local")
COMPLETED = BatchCompleted(1, "b1", 990, StatusCounts())
SUMMARY = Summary("completed", Totals(0, 0, 0, 0, 0, 0, 0, 0, None, None, None, None, {}))


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
    progress.see(submitted(990).to_json())
    progress.see(REJECTED.to_json())
    assert stream.getvalue() == ""
    clock.now = 10.0
    progress.see(COMPLETED.to_json())
    line = stream.getvalue().strip()
    assert line.startswith("read 1,000 | sent 990 | rejected 1 | batches 1 accepted, 1 completed")
    assert "99/s" in line
    assert "ETA 30 s" in line
    progress.see(SUMMARY.to_json())
    assert len(stream.getvalue().splitlines()) == 2


def test_the_line_moves_on_a_timer_and_says_what_the_run_waits_for() -> None:
    """With no event for a while, tick() still redraws, naming the rate-limit wait and its
    remaining seconds; later, with reading done, it says how many batches it is tracking."""
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, clock)
    progress.reading(500, 1.0)
    progress.see(submitted(500).to_json())
    progress.waiting("Light", 50.0)
    clock.now = 7.0
    progress.tick()
    assert stream.getvalue().splitlines()[-1].endswith("waiting 43 s for the Light rate limit")
    clock.now = 60.0
    progress.tick()
    assert stream.getvalue().splitlines()[-1].endswith("tracking 1 batch")
    lines = len(stream.getvalue().splitlines())
    progress.tick()  # within the interval: nothing new
    assert len(stream.getvalue().splitlines()) == lines


def test_unknown_batches_are_not_counted_as_failed() -> None:
    """A chunk_failed event with status unknown shows as unknown, as in the summary."""
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, clock)
    progress.see(ChunkFailed(1, "unknown", 0, 9, None).to_json())
    progress.see(Summary("failed", Totals(10, 0, 0, 0, 0, 0, 1, 0, None, None, None, None,
                                          {})).to_json())
    assert "0 failed, 1 unknown" in stream.getvalue()


def test_a_scheduled_send_s_wait_is_on_the_progress_line_until_the_next_round() -> None:
    """While a scheduled send waits, the line says for what and until when (local and UTC);
    the next round's first batch takes it off."""
    from engine.run.events import Waiting

    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, clock)
    line = ("waiting for the next recipients' window to open until 08:00 local "
            "(UTC 2026-11-20 13:00)")
    progress.see(Waiting("2026-11-20T13:00:00Z", 3600.0, "quiet-hours", line, 12,
                         {"America/New_York": 12}).to_json())
    clock.now += 10
    progress.tick()
    assert stream.getvalue().splitlines()[-1].endswith(" | " + line)
    progress.see(submitted(5).to_json())
    assert line not in progress.doing(clock.now)


def test_the_final_line_counts_what_the_summary_counts() -> None:
    """The reading hook lags (told every few thousand records): the final line's read,
    sent and rejected are the summary's, so it never reads fewer than it rejected."""
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, clock)
    progress.reading(16_384, 0.8)
    for _ in range(3):
        progress.see(REJECTED.to_json())
    clock.now = 2.0
    progress.see(Summary("completed", Totals(20_000, 0, 20_000, 0, 0, 0, 0, 0, None, None,
                                             None, None, {})).to_json())
    last = stream.getvalue().splitlines()[-1]
    assert last.startswith("read 20,000 | sent 0 | rejected 20,000 | ")


def test_a_resumes_rate_counts_only_what_this_process_sent() -> None:
    """After a resume the whole run's counts show, but the rate is this process's sending
    over this process's time (nothing new sent: 0/s)."""
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, clock)
    progress.see({"event": "resumed", "read": 200_000, "sent": 200_000, "rejectedLocal": 0,
                  "rejectedServer": 0, "acceptedChunks": 5, "completedChunks": 5,
                  "failedChunks": 0, "unknownChunks": 0})
    clock.now = 2.0
    progress.see(Summary("completed", Totals(200_000, 200_000, 0, 0, 0, 0, 0, 0, None, None,
                                             None, None, {})).to_json())
    last = stream.getvalue().splitlines()[-1]
    assert last.startswith("read 200,000 | sent 200,000 | rejected 0 | batches 5 accepted")
    assert "| 0/s |" in last


def test_under_json_logs_every_progress_line_is_a_json_record() -> None:
    """--log-format json: the progress line (the final one too) is a JSON log record of
    logger engine.progress with its figures as fields, never a plain line."""
    import json

    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, clock, json=True)
    progress.reading(1000, 0.5)
    progress.see(submitted(990).to_json())
    clock.now = 10.0
    progress.tick()
    progress.see(Summary("completed", Totals(1000, 990, 10, 0, 0, 0, 0, 0, None, None, None,
                                             None, {})).to_json())
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 2
    assert {line["logger"] for line in lines} == {"engine.progress"}
    assert lines[0]["progress"]["sent"] == 990
    assert lines[-1]["progress"] | {"rate": 0, "elapsed": 0} == {
        "read": 1000, "sent": 990, "rejected": 10, "accepted": 1, "completed": 0,
        "failed": 0, "unknown": 0, "rate": 0, "elapsed": 0, "doing": "", "final": True}
    assert lines[-1]["message"].startswith("read 1,000 | sent 990 | rejected 10 | ")
