"""Following accepted batches to Completed, inside the same Light budget as the senders.

When several batches are open, one listing (``GET .../batches?from=...&dateFrom=...``, up to
1000 a page) answers for all of them; a single open batch is read directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio

from engine import lifecycle
from engine.errors import EngineError
from engine.policy import next_poll
from engine.report import ChunkRecord, now_iso
from engine.sender import Run, recover_rejections


class Tracker:
    def __init__(self, run: Run, clock: Callable[[], float]) -> None:
        self.run = run
        self._clock = clock
        self.open: dict[str, ChunkRecord] = {}
        self.wake = anyio.Event()

    def add(self, record: ChunkRecord) -> None:
        assert record.batch_id is not None
        self.open[record.batch_id] = record
        self.wake.set()

    async def follow(self) -> None:
        """Poll until every accepted batch is completed, the run stops, or time runs out."""
        polling = self.run.settings.polling
        deadline = self._clock() + polling.timeout
        quiet = 0
        while not self.run.stopping.is_set():
            if not self.open:
                if self.run.submitted.is_set():
                    return
                await self._nap(polling.max_interval)
                continue
            if self._clock() > deadline:
                self._time_out()
                return
            progressed = await self._poll()
            quiet = 0 if progressed else quiet + 1
            if await self._nap(next_poll(polling.interval, polling.max_interval, quiet)):
                quiet = 0  # a new batch: poll at the short interval again

    async def _nap(self, seconds: float) -> bool:
        """Sleep, cut short when a batch is accepted; True when one was."""
        self.wake = anyio.Event()
        with anyio.move_on_after(seconds):
            await self.wake.wait()
            return True
        return False

    def _time_out(self) -> None:
        for record in self.open.values():
            record.note = "still processing when the polling timeout ran out"

    async def _poll(self) -> bool:
        try:
            views = await self._views()
        except EngineError as exc:
            for waiting in self.open.values():
                waiting.note = f"last poll failed: {exc}"
            return False
        progressed = False
        for view in views:
            record = self.open.get(view.get("id", ""))
            if record is None:
                continue
            processed = view.get("processedCount")
            if type(processed) is int and processed != record.processed:
                record.processed, progressed = processed, True
            if view.get("status") == "Completed":
                await self._complete(record, view)
                progressed = True
        return progressed

    async def _views(self) -> list[dict[str, Any]]:
        client = self.run.client
        if len(self.open) == 1:
            (batch_id,) = self.open
            view = await client.get_json(f"/batches/{batch_id}")
            return [view] if isinstance(view, dict) else []
        since = min((r.created for r in self.open.values() if r.created), default=None)
        params = {"from": self.run.sender} | ({"dateFrom": since} if since else {})
        return [view async for view in client.batches(params)]

    async def _complete(self, record: ChunkRecord, view: dict[str, Any]) -> None:
        try:
            statuses = await self.run.client.get_json("/statuses", {"batchId": record.batch_id})
        except EngineError as exc:
            statuses = None
            record.note = f"completed, but its delivery statuses could not be read: {exc}"
        cost = view.get("cost")
        record.cost = float(cost) if isinstance(cost, int | float) and cost >= 0 else None
        record.delivered = _count(statuses, "delivered")
        record.delivery_failed = _count(statuses, "deliveryFailed") + \
            _count(statuses, "sendingFailed")
        for key in ("deliveryFailed", "sendingFailed"):
            entry = statuses.get(key) if isinstance(statuses, dict) else None
            codes = entry.get("errorCodeCounts") if isinstance(entry, dict) else None
            for code, n in (codes or {}).items():
                record.error_codes[code] = record.error_codes.get(code, 0) + int(n)
        try:
            await recover_rejections(self.run, record)
        except EngineError as exc:
            record.note = f"adopted; its server rejections could not be recovered: {exc}"
        record.completed_at = now_iso()
        record.move(lifecycle.COMPLETED)
        self.run.log_state(record)
        assert record.batch_id is not None
        del self.open[record.batch_id]
        await self.run.emit({"event": "batch_completed", "chunk": record.number,
                             "batchId": record.batch_id, "processedCount": record.processed,
                             "delivered": record.delivered,
                             "deliveryFailed": record.delivery_failed, "cost": record.cost})


def _count(statuses: Any, key: str) -> int:
    entry = statuses.get(key) if isinstance(statuses, dict) else None
    count = entry.get("count") if isinstance(entry, dict) else 0
    return count if type(count) is int else 0
