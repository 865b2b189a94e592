"""Progress on stderr, fed by the run's events: a live line on a terminal, a plain line every
few seconds otherwise. Never writes to stdout, which carries the events."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO


class Progress:
    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock
        self._live = stream.isatty()
        self._every = 0.2 if self._live else 5.0
        self._start = clock()
        self._last = self._start
        self.sent = self.rejected = self.batches = self.completed = self.failed = 0
        self.read = 0
        self.share: float | None = None

    def reading(self, records: int, share: float | None) -> None:
        """The producer's report: records read so far, and the share of the input."""
        self.read, self.share = records, share

    def see(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "chunk_submitted":
            self.batches += 1
            self.sent += int(event.get("batchSize", 0))
        elif kind == "rejected":
            self.rejected += 1
        elif kind == "batch_completed":
            self.completed += 1
        elif kind == "chunk_failed":
            self.failed += 1
        now = self._clock()
        if kind == "summary" or now - self._last >= self._every:
            self._last = now
            self._show(now, final=kind == "summary")

    def _show(self, now: float, final: bool) -> None:
        elapsed = max(now - self._start, 1e-9)
        eta = ""
        if self.share and not final:
            eta = f" | ETA {elapsed * (1 - self.share) / self.share:,.0f} s (reading)"
        line = (f"read {self.read:,} | sent {self.sent:,} | rejected {self.rejected:,} | "
                f"batches {self.batches:,} accepted, {self.completed:,} completed, "
                f"{self.failed:,} failed | {self.sent / elapsed:,.0f}/s | {elapsed:,.1f} s{eta}")
        if self._live:
            self._stream.write("\r\033[K" + line + ("\n" if final else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
