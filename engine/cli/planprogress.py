"""``a2p plan``'s progress on a terminal: nothing for the first two seconds (most lists are
planned by then), then a live line on stderr, like send's, until the plan is printed. Off
when stderr is not a terminal (a pipe, a log, a test) and under -q."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from engine.reading import Block

DELAY = 2.0  # seconds of silence first
EVERY = 0.5  # then a redraw at most this often


class PlanProgress:
    """Counts the blocks the plan reads and redraws the line when one passes."""

    def __init__(self, stream: TextIO, *, quiet: bool, size: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._on = not quiet and stream.isatty()
        self._size = size
        self._clock = clock
        self._start = self._last = clock()
        self._shown = False
        self.records = 0
        self.offset: int | None = None

    def tap(self, blocks: Iterable[Block]) -> Iterator[Block]:
        """The blocks, unchanged, counted as they pass."""
        for block in blocks:
            if block.positions:
                self.records = max(self.records, block.positions[-1])
            self.tick(block)
            yield block

    def tick(self, block: Block | None = None) -> None:
        if not self._on:
            return
        now = self._clock()
        if now - self._start < DELAY or (self._shown and now - self._last < EVERY):
            return
        self._last, self._shown = now, True
        # a bulk block works its offsets out when asked: asked only here, once a redraw
        if block is not None and block.offsets is not None and len(block.offsets):
            self.offset = block.offsets[-1]
        share = ""
        if self._size and self.offset is not None:
            share = f" ({min(self.offset / self._size, 1.0):.0%} of the file)"
        self._stream.write(f"\r\033[Ka2p plan: read {self.records:,} records{share} | "
                           f"{now - self._start:,.1f} s")
        self._stream.flush()

    def done(self) -> None:
        """The line cleared, before the plan and its warnings are printed."""
        if self._shown:
            self._stream.write("\r\033[K")
            self._stream.flush()
            self._shown = False


def input_size(path: str) -> int | None:
    """The bytes of a plain file (the share the line tells); None for stdin or a .gz."""
    if path == "-" or path.endswith(".gz"):
        return None
    try:
        return os.path.getsize(path)
    except OSError:
        return None
