"""Local rejections on their way from the reader to the run, in bounded batches.

The reader runs in a worker thread and finds rejections between the chunks it cuts. A list
that is emptied only when a chunk is cut grows without bound on a bad list: with 95% bad rows
a chunk of 500,000 recipients spans ten million rejections, and a list of nothing but bad
rows cuts no chunk at all. So every ``FLUSH_AT`` rejections the reader's thread hands the
batch to the run (journal, count, events) and waits for it to be taken.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from typing import Any

import anyio.from_thread

from engine.core.rejections import Rejection

FLUSH_AT = 8192  # one reader block's worth: a few MiB at most, whatever the list holds


class LocalRejections:
    """The reader's sink (``append``) and the run's batch of what it found (``take``)."""

    def __init__(self, flush_at: int | None = None) -> None:
        self._items: list[Rejection] = []
        self._flush_at = FLUSH_AT if flush_at is None else flush_at
        self._drain: Callable[[], Coroutine[Any, Any, None]] | None = None
        self._loop_thread: int | None = None
        self._proven: Callable[[], bool] = lambda: True

    def hold_until(self, proven: Callable[[], bool]) -> None:
        """Hand nothing on before ``proven()``: a resumed run reads a list that must first be
        proven the one it read (``InputCheck``); the rejections of another list must never
        reach the journal, so they wait here (as its chunks wait in ``_checked``)."""
        self._proven = proven

    def bind(self, drain: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """``drain`` takes the batch on the event loop; called from the loop's thread, so
        only a reader in another thread (the worker the run reads files in) waits on it."""
        self._drain = drain
        self._loop_thread = threading.get_ident()

    def append(self, rejection: Rejection) -> None:
        self._items.append(rejection)
        if len(self._items) >= self._flush_at and self._drain is not None and \
                threading.get_ident() != self._loop_thread and self._proven():
            anyio.from_thread.run(self._drain)

    async def hand_on(self) -> None:
        """On the event loop (a reader of async items): the batch, once ``flush_at`` are
        waiting, handed on as a reader thread would."""
        if len(self._items) >= self._flush_at and self._drain is not None and self._proven():
            await self._drain()

    def take(self) -> list[Rejection]:
        taken, self._items = self._items, []
        return taken

    def __len__(self) -> int:
        return len(self._items)
