"""Events on stdout: a pipeline sees each batch event at once, while millions of rejected
events are written in few flushes, and none is lost."""

from __future__ import annotations

import io
import sys

import orjson
import pytest

from engine.cli.output import EventLines


class Stdout:
    """A stdout whose flushes are counted and whose flushed bytes are what a pipe saw."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self.seen = b""
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        self.seen = self.buffer.getvalue()


def rejected(k: int) -> dict[str, object]:
    return {"event": "rejected", "index": k}


def test_rejected_events_are_flushed_in_bulk_and_a_batch_event_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """1,000 rejected events in 0.1 s: no flush; the next batch event flushes them all with
    it; a rejected event after 0.25 s is flushed too."""
    out, now = Stdout(), [0.0]
    monkeypatch.setattr(sys, "stdout", out)
    lines = EventLines(clock=lambda: now[0])
    for k in range(1000):
        now[0] = k * 1e-4
        lines.write(rejected(k))
    assert out.flushes == 0
    lines.write({"event": "chunk_submitted", "chunk": 1})
    assert out.flushes == 1
    events = [orjson.loads(line) for line in out.seen.splitlines()]
    assert [e["index"] for e in events[:-1]] == list(range(1000))
    assert events[-1]["event"] == "chunk_submitted"
    now[0] = 1.0
    lines.write(rejected(1000))
    assert out.flushes == 2
    assert out.seen.endswith(orjson.dumps(rejected(1000)) + b"\n")


def test_the_timer_flush_brings_the_last_rejected_events_out(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Rejected events followed by no other event still reach the pipe on the CLI's timer."""
    out, now = Stdout(), [0.0]
    monkeypatch.setattr(sys, "stdout", out)
    lines = EventLines(clock=lambda: now[0])
    lines.write(rejected(1))
    lines.write(rejected(2))
    assert out.seen == b""
    lines.flush()
    assert [orjson.loads(line)["index"] for line in out.seen.splitlines()] == [1, 2]
