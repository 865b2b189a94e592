"""Work the simulated backend does after it has answered (a batch created seconds after the
gateway gave up on it). Every job runs in one anyio task group whose host task belongs to the
app's cleanup context: stopping the simulator cancels each job still waiting, and none outlives
it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.abc import TaskGroup

Job = Callable[[], Coroutine[Any, Any, None]]


class Backlog:
    """Jobs handed over by request handlers, run in :meth:`serving`'s task group."""

    def __init__(self) -> None:
        self._group: TaskGroup | None = None

    def start(self, job: Job) -> None:
        """Run ``job`` in the backlog's task group, from this loop turn on (as a request
        handler hands it over: the group is passed around, the jobs stay its children)."""
        if self._group is None:
            raise RuntimeError("the simulator's backend is not running (not started yet, stopped, "
                               "or ended by a job that failed): serve the app with an AppRunner")
        self._group.start_soon(job)

    async def _serve(self, ready: asyncio.Event) -> None:
        async with anyio.create_task_group() as group:
            self._group = group
            ready.set()
            try:
                await anyio.sleep_forever()
            finally:
                self._group = None

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """Run the jobs until the block ends, then cancel those still waiting and wait for
        them. Entered and left by the app's startup and cleanup, which may be different tasks:
        so the task group lives in a host task of its own rather than across the ``yield``."""
        ready = asyncio.Event()
        host = asyncio.get_running_loop().create_task(self._serve(ready))
        host.add_done_callback(lambda _: ready.set())  # a host that ended early is ready too
        await ready.wait()
        try:
            yield
        finally:
            host.cancel()
            await asyncio.wait([host])
        if not host.cancelled() and host.exception() is not None:
            raise RuntimeError("a job of the simulator's backlog failed") from host.exception()
