"""Lost answers: a batch POST that went out and got no answer (or a 5xx) may have created a
batch, and there is no idempotency key, so it is never sent again until the server is shown
not to hold it.

``LostAnswers`` looks for the batch (engine/core/reconcile.py decides, this only reads and
sleeps): found, it is adopted as the chunk's; proved absent, the chunk goes back to the
``Sender`` to be sent again; undecided, it is left unknown for a resume to look again. An
adopted batch's answer (its server rejections) was lost too: once the batch completes its
message store is read back (engine/run/storerecovery.py).

The Sender and this module meet only through ``Outlet`` (what goes back to the sender) and
the public methods here; every state change goes through the recorder's journaled door.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Container, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

import anyio
from anyio.abc import TaskGroup

from engine.batching.bodyscan import messages, pieces_of
from engine.batching.chunker import Chunk, StoredBodyError
from engine.core import lifecycle
from engine.core.lifecycle import Reason
from engine.core.policy import NO_ANSWER
from engine.core.reconcile import (
    DATE_MARGIN,
    Absent,
    Adopt,
    Expected,
    ReadListing,
    ReadMessages,
    Reconciliation,
    SentAt,
    Undecided,
    Wait,
    creation_offset,
)
from engine.errors import EngineError, JournalError, StoppedReconciling
from engine.rc.client import ApiClient
from engine.rc.ratebudget import unless_stopped
from engine.rc.transport import Reply, page_of
from engine.run.options import RunSettings
from engine.run.recorder import Recorder
from engine.run.report import ChunkRecord
from engine.run.resume import check_rebuilt
from engine.run.storerecovery import ADOPTED_NOTE, Rebuild, StoreRecovery, body_lost


class Outlet(Protocol):
    """What a lost answer hands back to the sender."""

    async def accept(self, chunk: Chunk, record: ChunkRecord, body: Any) -> None:
        """The batch found on the server, as if its answer had come."""

    async def resend(self, chunk: Chunk, record: ChunkRecord) -> None:
        """Proved not created: send it again, in a sending slot."""

    async def resend_caught(self, chunk: Chunk, record: ChunkRecord) -> None:
        """Proved not created, cut by a run before: screened by this run's consents, then
        sent again (``resend``)."""

    async def gave_up_absent(self, record: ChunkRecord, reply: Reply | None) -> bool:
        """Proved not created, but the policy's attempts or time ran out: True, failed."""


class LostAnswers:
    """One run's lost answers: being reconciled beside the workers, and adopted batches whose
    rejections are still to be read back."""

    def __init__(self, run: RunSettings, client: ApiClient, recorder: Recorder,
                 outlet: Outlet, *, stopping: anyio.Event, rebuild: Rebuild | None,
                 sleep: Callable[[float], Awaitable[None]], clock: Callable[[], float],
                 wall: Callable[[], float]) -> None:
        """``rebuild`` gives a chunk of a file again from the input (None: the input cannot
        be read twice), so a chunk waiting on a lost answer need not hold its body.
        ``clock`` measures waits; ``wall`` is this machine's calendar clock (epoch seconds),
        for the server-time arithmetic."""
        self._run = run
        self._client = client
        self._recorder = recorder
        self._outlet = outlet
        self._stopping = stopping
        self._rebuild = rebuild
        self._sleep = sleep
        self._clock = clock
        self._wall = wall
        self._owned: set[str] = set()
        # an adopted batch's rejections, read back from its message store once it completes
        self.store = StoreRecovery(run, client, recorder, rebuild=rebuild, sleep=sleep,
                                   clock=clock)
        self.recover_rejections = self.store.recover_rejections
        self._group: TaskGroup | None = None  # reconciliations, beside the workers
        self._parked = anyio.Semaphore(2)
        # the journal's own calibration (a resumed run's): the clock that stamped its
        # submittedAt may have been stepped since, so today's offset would misplace them
        self._journal_offset = creation_offset((r.submitted_at, r.created)
                                               for r in recorder.records.values())

    @property
    def owned(self) -> Container[str]:
        """The batch ids this run's chunks own."""
        return self._owned

    @property
    def journal_offset(self) -> float | None:
        """A resumed journal's calibration of the server's creation clock (None: none)."""
        return self._journal_offset

    def own(self, batch_ids: Iterable[str]) -> None:
        """Batches this run made: never adopted for another chunk."""
        self._owned.update(batch_ids)

    @asynccontextmanager
    async def reconciling(self) -> AsyncIterator[TaskGroup]:
        """The task group lost answers are reconciled in while the run sends; it ends when
        the last of them is settled."""
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                yield group
        finally:
            self._group = None

    @property
    def can_park(self) -> bool:
        """Whether a lost answer is reconciled beside the workers (else in the worker)."""
        return self._group is not None and self._run.on_ambiguous == "reconcile"

    async def recover(self, caught: Chunk | dict[str, Any]) -> None:
        """A chunk the journal shows in flight at the stop: it may or may not have been
        created, so it goes through the same reconciliation as a lost answer."""
        if isinstance(caught, dict):
            record = self._recorder.records[caught["chunk"]]
            self._recorder.move(record, lifecycle.UNKNOWN, Reason.NOT_REREADABLE,
                                "in flight when the run stopped, and the input cannot be read "
                                "again to reconcile it (not a file)", via=lifecycle.AMBIGUOUS)
            return
        record = self._recorder.records[caught.number]
        record.error = {"errorCode": NO_ANSWER, "message": "in flight when the run stopped"}
        sent = None
        if record.submitted_at:
            with contextlib.suppress(ValueError):
                sent = SentAt(datetime.fromisoformat(record.submitted_at).timestamp(),
                              self._journal_offset)
        if not await self.settle(caught, record, since=self._run.resume_since, sent=sent,
                                 live=False):
            await self._outlet.resend_caught(caught, record)

    async def park(self, chunk: Chunk, record: ChunkRecord, sent_at: SentAt) -> None:
        """Reconcile a lost answer beside the workers, not in a sending slot. A chunk the
        input can give again drops its body meanwhile; any other keeps it under a small
        limiter, and a worker waiting for that limiter stops the reading."""
        self._recorder.move(record, lifecycle.AMBIGUOUS)
        expected = await self._expected(chunk, record)
        if expected is None:
            return  # left unknown: what it held cannot be told
        light = self._rebuild is not None
        if light:
            chunk = Chunk(chunk.number, b"", chunk.size, chunk.index, chunk.start_offset,
                          chunk.digest)
        else:
            await self._parked.acquire()
        assert self._group is not None
        self._group.start_soon(self._reconcile_parked, chunk, record, expected, light, sent_at)

    async def _reconcile_parked(self, chunk: Chunk, record: ChunkRecord, expected: Expected,
                                light: bool, sent_at: SentAt) -> None:
        try:
            if await self.settle(chunk, record, expected, sent=sent_at):
                return
            if await self._outlet.gave_up_absent(record, None):
                return
            if light and self._rebuild is not None:
                chunk = await self._rebuild(chunk.number)
                check_rebuilt(chunk.number, self.expected_of(chunk), expected)
        finally:
            if not light:
                self._parked.release()
        await self._outlet.resend(chunk, record)

    def expected_of(self, chunk: Chunk) -> Expected:
        """What the chunk's request held, read from its body a piece at a time."""
        return Expected.of(self._run.sender, messages(pieces_of(chunk.body)))

    async def _expected(self, chunk: Chunk, record: ChunkRecord) -> Expected | None:
        """What the request that went out held. Its body may be gone or changed since (a
        user, a temp cleaner): then the input read again tells, if it gives the very records
        the chunk held (its digest). None: neither can, and the chunk is left unknown; its
        request went out, so a batch may exist, and it is never sent again from here."""
        try:
            return self.expected_of(chunk)
        except StoredBodyError as exc:
            lost = body_lost(exc)
        if self._rebuild is None:
            await self._unknown(record, Reason.NOT_REREADABLE,
                                f"its request went out, but {lost}, so its batch could not "
                                "be looked for, and the input cannot be read again (not a "
                                "file). It may have been created: check this range on "
                                "RingCentral before sending it again")
            return None
        try:
            again = await self._rebuild(chunk.number)
            if not chunk.digest or again.digest != chunk.digest:
                raise JournalError("the input now gives other records than the chunk held")
            return self.expected_of(again)
        except (EngineError, OSError) as exc:
            await self._unknown(record, Reason.NOT_RECONCILED,
                                f"could not reconcile: {lost}, and {exc}; a2p send --resume "
                                "JOURNAL looks for its batch again (or check this range on "
                                "RingCentral before sending it again)")
            return None

    async def _unknown(self, record: ChunkRecord, reason: Reason | None, note: str | None
                       ) -> None:
        self._recorder.move(record, lifecycle.UNKNOWN, reason, note, via=lifecycle.AMBIGUOUS)
        await self._recorder.failed(record)

    async def settle(self, chunk: Chunk, record: ChunkRecord, expected: Expected | None = None,
                     since: float | None = None, created_after: float | None = None, *,
                     sent: SentAt | None = None, live: bool = True) -> bool:
        """True when the chunk is settled (adopted or unknown); False when it may be
        resent (proved absent, or resend was asked for)."""
        if self._run.on_ambiguous == "resend":
            return False
        reason, note = None, record.note
        if self._run.on_ambiguous == "reconcile":
            if expected is None:
                expected = await self._expected(chunk, record)
                if expected is None:
                    return True  # left unknown
            try:
                step = await self.find_batch(expected, since, created_after, sent=sent,
                                             live=live)
            except EngineError as exc:
                reason, note = Reason.NOT_RECONCILED, f"could not reconcile: {exc}"
            else:
                if isinstance(step, Adopt):
                    await self.adopt(chunk, record, step.batch)
                    return True
                if isinstance(step, Absent):
                    return False
                reason = Reason.NOT_RECONCILED
                note = f"could not reconcile: {step.reason}; resume the run later to " \
                       "look again, or check this range on RingCentral"
        await self._unknown(record, reason, note)
        return True

    async def adopt(self, chunk: Chunk, record: ChunkRecord, batch: dict[str, Any]) -> None:
        record.note = ADOPTED_NOTE
        record.reason = Reason.ADOPTED
        record.adopted = True
        if self._rebuild is None:
            self.store.adopted[record.number] = chunk  # to recover its rejections later
        # a listing gives no rejections: they are recovered once the batch completes
        await self._outlet.accept(chunk, record, {**batch, "rejected": []})
        self.hold_unproven(record)

    def hold_unproven(self, record: ChunkRecord) -> None:
        """An adopted batch holds ``batchSize`` of the chunk's recipients: until its store
        names the others (rejected), they are pending, never counted sent."""
        unknown = record.count - (record.batch_size or record.count)
        if record.state == lifecycle.ACCEPTED and unknown > 0:
            self._recorder.aggregator.recovered([], unknown, 0)
            record.pending = unknown
            self._recorder.save(record)

    async def find_batch(self, expected: Expected, since: float | None = None,
                         created_after: float | None = None, *, sent: SentAt | None = None,
                         live: bool = True) -> Adopt | Absent | Undecided:
        """The thin loop around the reconciliation decision: it only reads and sleeps.

        ``sent``: when the request went out (our clock) and the calibration known then; with
        ``live``, each look takes this run's latest calibration (a batch's creationTime). A
        resumed run's in-flight chunk is not live: its submittedAt is another process's clock.
        ``since`` (server clock): ``dateFrom`` is a minute before it (where a resumed run's
        history begins). Without ``sent``, only a batch created after ``created_after``
        (default ``since``, default now) can be the request's."""
        retry = self._run.settings.retry
        if sent is None:
            since = self._client.server_now() if since is None else since
            if created_after is None:
                created_after = since
        date_from = None if since is None else \
            datetime.fromtimestamp(since - DATE_MARGIN, UTC).isoformat()
        search = Reconciliation(expected, self._owned, started=self._clock(),
                                created_after=created_after, sent=sent,
                                window=retry.reconcile_window, date_from=date_from,
                                interval=max(retry.backoff_initial, 0.01),
                                max_interval=max(retry.backoff_max, 0.01))
        while True:
            if live:
                search.calibrate(self._client.creation_offset)
            step = search.next(self._clock())
            if isinstance(step, Wait):
                if not await unless_stopped(self._stopping, self._sleep, step.seconds):
                    raise StoppedReconciling("the run was stopped while the batch was being "
                                             "looked for on the server")
            elif isinstance(step, ReadListing):
                search.listing(*page_of(await self._client.get_json(
                    "/batches", {"perPage": 1000, **step.params})))
            elif isinstance(step, ReadMessages):
                records, _ = page_of(await self._client.get_json("/messages", step.params))
                search.messages(step.batch_id, records)
            elif isinstance(step, Adopt) and step.batch["id"] in self._owned:
                search.disown(step.batch["id"])  # another chunk's lost request made it
            else:
                if isinstance(step, Adopt):
                    self._owned.add(step.batch["id"])
                return step
