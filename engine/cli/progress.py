"""Progress on stderr, fed by the run's events and redrawn on a timer: a live line on a
terminal, a plain line every few seconds otherwise. It says what the run is waiting for
("waiting 43 s for the Light rate limit", "tracking 12 batches"). Never writes to stdout,
which carries the events. Under ``--log-format json`` each line is a JSON log record instead
(logger ``engine.progress``, its figures in ``progress``), so every stderr line a log shipper
reads is JSON but the people's ``a2p: ...`` lines."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from engine.cli.logformat import JsonLines


class Progress:
    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic,
                 json: bool = False) -> None:
        self._stream = stream
        self._clock = clock
        self._json = JsonLines() if json else None
        self._live = stream.isatty() and not json  # a JSON line is never redrawn
        self.every = 0.5 if self._live else 5.0
        self._start = clock()
        self._last = self._start
        self.sent = self.rejected = self.batches = self.completed = 0
        self.failed = self.unknown = 0
        self.read = 0
        self._sent_before = 0  # a resume: what the runs before sent (not in this one's rate)
        self._held = 0  # a resume: records of the chunks the runs before sent or settled
        self.share: float | None = None
        self._wait: tuple[str, float] | None = None
        self._round: str | None = None  # a scheduled send's wait for its next round

    def reading(self, records: int, share: float | None) -> None:
        """The producer's report: records this run read so far (a resume's line adds those
        of the chunks the runs before kept), and the share of the input."""
        self.read, self.share = self._held + records, share

    def waiting(self, group: str, seconds: float) -> None:
        """Requests of ``group`` wait ``seconds`` for its rate budget."""
        self._wait = (group, self._clock() + seconds)

    def see(self, event: Mapping[str, Any]) -> None:
        """One event as the run emits it (its JSON object): read by kind, never parsed into
        an Event, since a list of bad rows brings millions of ``rejected`` ones."""
        kind = event["event"]
        if kind == "waiting":
            self._round = str(event["message"])
        elif kind in ("chunk_submitted", "summary"):
            self._round = None
        if kind == "rejected":
            self.rejected += 1
        elif kind == "chunk_submitted":
            self.batches += 1
            self.sent += event["batchSize"]
        elif kind == "batch_completed":
            self.completed += 1
        elif kind == "chunk_failed":
            if event["status"] == "unknown":
                self.unknown += 1
            else:
                self.failed += 1
        elif kind == "resumed":  # a resume: the counters go on from the runs before
            self.resumed(event)
        if kind == "summary":  # the last line: the run's totals, as the report has them
            self._settle(event)
            self._show(self._clock(), final=True)
        else:
            self.tick()

    def resumed(self, event: Mapping[str, Any]) -> None:
        """What the runs before a resume did, added so the line counts the whole run, as
        the final line (the report's totals) does."""
        # the run's hook counts what it reads and the local rejections (restored ones too)
        self._held = event["read"] - event["rejectedLocal"]
        self.read = max(self.read, event["read"])
        self.sent += event["sent"]
        self._sent_before += event["sent"]
        self.rejected += event["rejectedLocal"] + event["rejectedServer"]
        self.batches += event["acceptedChunks"]
        self.completed += event["completedChunks"]
        self.failed += event["failedChunks"]
        self.unknown += event["unknownChunks"]

    def _settle(self, totals: Mapping[str, Any]) -> None:
        """The counts of the final line taken from the summary's totals: the reading hook
        is told every few thousand records, so its last figure may lag behind the end."""
        self.read = max(self.read, totals["records"])
        self.sent = totals["sent"]
        self.rejected = totals["rejectedLocal"] + totals["rejectedServer"]
        self.failed, self.unknown = totals["failedChunks"], totals["unknownChunks"]

    def tick(self) -> None:
        """Redraw when the interval has passed; called by events and by a timer, so the line
        moves while the run waits."""
        now = self._clock()
        if now - self._last >= self.every:
            self._show(now, final=False)

    def doing(self, now: float) -> str:
        """What the run is waiting for, if anything."""
        if self._round is not None:
            return self._round
        if self._wait is not None and self._wait[1] > now:
            return f"waiting {self._wait[1] - now:,.0f} s for the {self._wait[0]} rate limit"
        tracking = self.batches - self.completed
        if tracking > 0 and (self.share is None or self.share >= 1.0):
            return f"tracking {tracking:,} batch" + ("es" if tracking != 1 else "")
        if self.share and self.share < 1.0:
            elapsed = max(now - self._start, 1e-9)
            return f"ETA {elapsed * (1 - self.share) / self.share:,.0f} s (reading)"
        return ""

    def _show(self, now: float, final: bool) -> None:
        self._last = now
        elapsed = max(now - self._start, 1e-9)
        doing = "" if final else self.doing(now)
        rate = (self.sent - self._sent_before) / elapsed  # this process's sending alone
        line = (f"read {self.read:,} | sent {self.sent:,} | rejected {self.rejected:,} | "
                f"batches {self.batches:,} accepted, {self.completed:,} completed, "
                f"{self.failed:,} failed, {self.unknown:,} unknown | "
                f"{rate:,.0f}/s | {elapsed:,.1f} s" + (f" | {doing}" if doing else ""))
        if self._json is not None:
            line = self._json_line(line, rate, elapsed, doing, final)
        if self._live:
            self._stream.write("\r\033[K" + line + ("\n" if final else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def _json_line(self, line: str, rate: float, elapsed: float, doing: str,
                   final: bool) -> str:
        """The line as a JSON log record (``--log-format json``), its figures as fields."""
        assert self._json is not None
        record = logging.makeLogRecord({
            "name": "engine.progress", "levelno": logging.INFO, "levelname": "INFO",
            "msg": line, "progress": {
                "read": self.read, "sent": self.sent, "rejected": self.rejected,
                "accepted": self.batches, "completed": self.completed,
                "failed": self.failed, "unknown": self.unknown, "rate": round(rate, 1),
                "elapsed": round(elapsed, 1), "doing": doing, "final": final}})
        return self._json.format(record)
