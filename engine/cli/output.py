"""The CLI's two streams: events and documents on stdout, everything for people on stderr."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any


def say(line: str) -> None:
    """One line for the person at the terminal, on stderr, at once."""
    print(line, file=sys.stderr, flush=True)


def write_json(document: Any, indent: bool = False) -> None:
    """One JSON document on stdout, ending with a newline."""
    import orjson

    option = orjson.OPT_APPEND_NEWLINE | (orjson.OPT_INDENT_2 if indent else 0)
    sys.stdout.buffer.write(orjson.dumps(document, option=option))


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class EventLines:
    """Events as JSON lines on stdout. When the reader of stdout goes away (``| head``), the
    run goes on (stopping it half-way would help nobody) and the report keeps everything.

    Every event but ``rejected`` is flushed at once, so a pipeline sees a batch as soon as it
    exists; ``rejected`` ones (millions, on a bad list) at most every ``FLUSH_EVERY`` seconds
    or with the next other event, since a write to the pipe for each cost more than reading
    the row."""

    FLUSH_EVERY = 0.25

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.gone = False
        self._clock = clock
        self._flushed = clock()

    def write(self, event: dict[str, Any]) -> None:
        import orjson

        if self.gone:
            return
        try:
            sys.stdout.buffer.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
        except BrokenPipeError:
            self._closed()
            return
        if event["event"] != "rejected" or self._clock() - self._flushed >= self.FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """What was written reaches the pipe now: after each event but ``rejected``, and on
        the CLI's timer, so the last rejected ones never wait for another event."""
        if self.gone:
            return
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            self._closed()
        self._flushed = self._clock()

    def _closed(self) -> None:
        self.gone = True
        silence_stdout()
        say("a2p: stdout was closed; events are no longer written, the run goes on and "
            "the report will hold everything.")
