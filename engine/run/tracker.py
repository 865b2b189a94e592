"""Following accepted batches to Completed, inside the same Light budget as the senders.

When several batches are open, one listing (``GET .../batches?from=...&dateFrom=...``, up to
1000 a page) answers for all of them; a single open batch is read directly.

With ``wait="delivered"`` a Completed batch stays followed: ``Completed`` only means every
message was handed on towards the carriers, whose receipts come back over minutes to hours.
``GET .../statuses?batchId=`` (one Light request per such batch) is read, backing off, until
no message is Queued or Sent, or ``delivery_timeout`` seconds after the batch completed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import TaskGroup

from engine.config.settings import PollSettings
from engine.core import lifecycle
from engine.core.policy import next_poll
from engine.errors import EngineError
from engine.rc.client import ApiClient
from engine.run.events import BatchCompleted, BatchDelivered, StatusCounts
from engine.run.recorder import Recorder
from engine.run.report import ChunkRecord, stamp
from engine.run.storerecovery import needs_recovery


@dataclass(frozen=True, slots=True)
class Tracking:
    """What the tracker works with, built once by the run's sender."""

    client: ApiClient
    polling: PollSettings
    sender: str  # the run's from number: a listing of many batches is filtered by it
    recorder: Recorder
    stopping: anyio.Event  # the run was stopped: tracking ends at once
    submitted: anyio.Event  # every chunk has been sent: no batch will be added
    clock: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]]
    wall: Callable[[], float]  # this machine's calendar clock, for the records' timestamps
    # an adopted batch has completed: read its lost rejections back from its message store
    recover_rejections: Callable[[ChunkRecord], Awaitable[None]]


class Tracker:
    def __init__(self, run: Tracking, *, delivery_timeout: float | None = None) -> None:
        self._run = run
        self._recorder = run.recorder
        self._clock = run.clock
        self.open: dict[str, ChunkRecord] = {}
        # each batch's own end of polling: a run whose POSTs take hours must not time out the
        # batch it accepted last before its first poll
        self._due: dict[str, float] = {}
        # batch id -> (record, give-up time): completed, receipts still outstanding
        self.receipts: dict[str, tuple[ChunkRecord, float]] = {}
        self._delivery_timeout = delivery_timeout
        self.wake = anyio.Event()
        # adopted batches completed, their message stores being read (beside the polling)
        self.settling: dict[str, ChunkRecord] = {}
        self._group: TaskGroup | None = None
        # called with each batch whose statuses were just read (a scheduled round's
        # carrier-cap halt, engine/run/capledger.py CarrierWatch)
        self.on_statuses: Callable[[ChunkRecord], Awaitable[None]] | None = None
        # told after each status poll how many messages of the open batches the server has
        # not processed yet (a scheduled round's pacing measures its rate from it)
        self.on_poll: Callable[[int], None] | None = None
        # told when the batches that sum changes other than by acceptance or completion (a
        # batch timed out): the pacing must not measure across it
        self.on_rebase: Callable[[], None] | None = None
        # batch id -> messages not processed at the last poll, of the batches timed out: the
        # server still holds them, so the polls' sum keeps them until a poll sees them done
        # (the listing keeps reading their progress; ``_stale_from``: the earliest created)
        self.stale: dict[str, int] = {}
        self._stale_from: str | None = None

    def add(self, record: ChunkRecord) -> None:
        assert record.batch_id is not None
        self.stale.pop(record.batch_id, None)  # tracked again: counted in ``open``
        self.open[record.batch_id] = record
        self._due[record.batch_id] = self._clock() + self._run.polling.timeout
        self.wake.set()

    def done(self) -> None:
        """Every chunk has been sent: no batch will be added."""
        self.wake.set()

    async def follow(self) -> None:
        """Poll until every accepted batch is completed, the run stops, or time runs out."""
        async with anyio.create_task_group() as group:
            self._group = group
            await self._follow()
        self._group = None

    async def _follow(self) -> None:
        polling = self._run.polling
        quiet = 0
        while not self._run.stopping.is_set():
            if not self.open and not self.receipts and self.settling:
                await self._nap(polling.max_interval)  # woken when a store is settled
                continue
            if not self.open and not self.receipts:
                if self._run.submitted.is_set():
                    return
                await self._nap(polling.max_interval)
                continue
            now = self._clock()
            late = [batch_id for batch_id in self.open if now > self._due[batch_id]]
            if late:
                self._time_out(late)
                continue
            progressed = await self._poll() if self.open else False
            progressed = await self._poll_receipts() or progressed
            quiet = 0 if progressed else quiet + 1
            if await self._nap(next_poll(polling.interval, polling.max_interval, quiet)):
                quiet = 0  # a new batch: poll at the short interval again

    async def _nap(self, seconds: float) -> bool:
        """Sleep (the run's own sleep, so a test's clock drives it), cut short when a batch
        is accepted; True when one was."""
        self.wake = wake = anyio.Event()
        woke = False

        async def sleep(group: TaskGroup) -> None:
            await self._run.sleep(seconds)
            group.cancel_scope.cancel()

        async def watch(group: TaskGroup) -> None:
            nonlocal woke
            await wake.wait()
            woke = True
            group.cancel_scope.cancel()

        async with anyio.create_task_group() as group:
            group.start_soon(sleep, group)
            group.start_soon(watch, group)
        return woke

    def _time_out(self, late: list[str]) -> None:
        for batch_id in late:
            record = self.open.pop(batch_id)
            record.note = "still processing when the polling timeout ran out"
            del self._due[batch_id]
            self.stale[batch_id] = _unprocessed(record)
            if record.created and (self._stale_from is None or
                                   record.created < self._stale_from):
                self._stale_from = record.created
        if self.on_rebase is not None:
            self.on_rebase()

    async def _poll_receipts(self) -> bool:
        progressed = False
        for batch_id, (record, give_up) in list(self.receipts.items()):
            if self._clock() > give_up:
                record.note = (f"{(record.queued or 0) + (record.sent or 0):,} messages still "
                               "Queued or Sent when the delivery timeout ran out; run "
                               "'a2p outcomes' later to read their receipts")
                del self.receipts[batch_id]
                continue
            before = (record.queued, record.sent)
            if await self._read_statuses(record) and awaiting_receipts(record) == 0:
                del self.receipts[batch_id]
                await self._recorder.emit(BatchDelivered(record.number, batch_id,
                                                         counts_of(record)))
            progressed |= before != (record.queued, record.sent)
        return progressed

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
                self._seen_stale(view)
                continue
            processed = view.get("processedCount")
            # never backwards: a listing served by a lagging replica would have the pacing
            # count the same messages processed twice (adv29 F4)
            if type(processed) is int and processed > (record.processed or 0):
                record.processed, progressed = processed, True
            if view.get("status") == "Completed":
                await self._complete(record, view)
                progressed = True
        if self.on_poll is not None:
            self.on_poll(sum(_unprocessed(r) for r in self.open.values()) +
                         sum(self.stale.values()))
        return progressed

    def _seen_stale(self, view: dict[str, Any]) -> None:
        """A listing showed a batch that timed out: its progress, and gone once done."""
        batch_id = view.get("id")
        if not isinstance(batch_id, str) or batch_id not in self.stale:
            return
        processed, size = view.get("processedCount"), view.get("batchSize")
        if view.get("status") == "Completed":
            del self.stale[batch_id]
        elif type(processed) is int and type(size) is int:
            self.stale[batch_id] = min(self.stale[batch_id], max(0, size - processed))

    async def _views(self) -> list[dict[str, Any]]:
        client = self._run.client
        if len(self.open) == 1 and not self.stale:
            (batch_id,) = self.open
            view = await client.get_json(f"/batches/{batch_id}")
            return [view] if isinstance(view, dict) else []
        created = [r.created for r in self.open.values() if r.created]
        if created and self.stale and self._stale_from:  # their progress too
            created.append(self._stale_from)
        since = min(created, default=None)
        params = {"from": self._run.sender} | ({"dateFrom": since} if since else {})
        return [view async for view in client.batches(params)]

    async def _complete(self, record: ChunkRecord, view: dict[str, Any]) -> None:
        cost = view.get("cost")
        record.cost = float(cost) if isinstance(cost, int | float) and cost >= 0 else None
        await self._read_statuses(record)
        assert record.batch_id is not None
        del self.open[record.batch_id]
        self._due.pop(record.batch_id, None)
        if needs_recovery(record) and self._group is not None:
            # its store may lag Completed: read beside the polling, not holding it up
            self.settling[record.batch_id] = record
            self._group.start_soon(self._settle, record)
            return
        await self._completed(record)

    async def _settle(self, record: ChunkRecord) -> None:
        assert record.batch_id is not None
        try:
            await self._run.recover_rejections(record)
        except EngineError as exc:
            record.note = f"adopted; its server rejections could not be recovered: {exc}"
        del self.settling[record.batch_id]
        await self._completed(record)
        self.wake.set()

    async def _completed(self, record: ChunkRecord) -> None:
        """Completed, and (for an adopted batch) its rejections read back or left pending."""
        assert record.batch_id is not None
        record.completed_at = stamp(self._run.wall())
        self._recorder.move(record, lifecycle.COMPLETED)
        if self._delivery_timeout is not None and awaiting_receipts(record) != 0:
            self.receipts[record.batch_id] = (record, self._clock() + self._delivery_timeout)
        await self._recorder.emit(BatchCompleted(record.number, record.batch_id,
                                                 record.processed, counts_of(record)))

    async def _read_statuses(self, record: ChunkRecord) -> bool:
        """Read the batch's status counts into its record; False when they could not be read."""
        try:
            statuses = await self._run.client.get_json("/statuses",
                                                       {"batchId": record.batch_id})
        except EngineError as exc:
            record.note = f"its delivery statuses could not be read: {exc}"
            return False
        counts = read_counts(statuses)
        record.queued, record.sent = counts["queued"], counts["sent"]
        record.delivered = counts["delivered"]
        record.delivery_failed = counts["deliveryFailed"]
        record.sending_failed = counts["sendingFailed"]
        record.error_codes = error_code_counts(statuses)
        record.counts_read_at = stamp(self._run.wall())
        if self.on_statuses is not None:
            await self.on_statuses(record)
        return True


def _unprocessed(record: ChunkRecord) -> int:
    """The batch's messages the server had not processed at the last poll."""
    size = record.batch_size if record.batch_size is not None else record.count
    return max(0, size - (record.processed or 0))


STATUS_KEYS = ("queued", "sent", "delivered", "deliveryFailed", "sendingFailed")


def awaiting_receipts(record: ChunkRecord) -> int | None:
    """Messages still Queued or Sent (None when the counts were never read)."""
    if record.queued is None or record.sent is None:
        return None
    return record.queued + record.sent


def read_counts(statuses: Any) -> dict[str, int]:
    """The count of each status in a MessageStatusesResponse (0 where it is missing)."""
    return {key: _count(statuses, key) for key in STATUS_KEYS}


def error_code_counts(statuses: Any) -> dict[str, int]:
    """Every errorCodeCounts entry of deliveryFailed and sendingFailed, added up."""
    codes: dict[str, int] = {}
    for key in ("deliveryFailed", "sendingFailed"):
        entry = statuses.get(key) if isinstance(statuses, dict) else None
        found = entry.get("errorCodeCounts") if isinstance(entry, dict) else None
        for code, n in (found if isinstance(found, dict) else {}).items():
            if type(n) is int:
                codes[str(code)] = codes.get(str(code), 0) + n
    return dict(sorted(codes.items()))


def counts_of(record: ChunkRecord) -> StatusCounts:
    return StatusCounts(record.queued, record.sent, record.delivered, record.delivery_failed,
                        record.sending_failed, record.error_codes, record.cost,
                        record.counts_read_at)


def _count(statuses: Any, key: str) -> int:
    entry = statuses.get(key) if isinstance(statuses, dict) else None
    count = entry.get("count") if isinstance(entry, dict) else 0
    return count if type(count) is int else 0
