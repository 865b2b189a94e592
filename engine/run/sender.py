"""Submitting chunks: concurrent workers with back-pressure, every failure classified by the
one retry policy (engine/core/policy.py) before anything is retried, and never a blind resend of a
request that may have been processed.

``RunSettings`` is what a run is told and never changes; the ``Recorder`` owns the records,
the journal and the events; the ``Sender`` owns the workers, the limiters and the lost answers
being reconciled. Nothing outside sets their fields.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import anyio
import orjson
from anyio.abc import ObjectReceiveStream, ObjectSendStream, TaskGroup

from engine.batching.chunker import Chunk, Chunker
from engine.config.settings import Settings
from engine.core import lifecycle
from engine.core.chunkindex import PositionIndex
from engine.core.lifecycle import Reason
from engine.core.paging import PageWalk
from engine.core.policy import (
    BAD_ANSWER,
    LOST_CODE,
    NO_ANSWER,
    NOT_SENT,
    Action,
    Kind,
    Verdict,
    classify,
    decide,
    unanswered,
)
from engine.core.reconcile import (
    Absent,
    Adopt,
    Expected,
    ReadListing,
    ReadMessages,
    Reconciliation,
    Undecided,
    Wait,
)
from engine.core.rejections import SERVER, Rejection
from engine.core.storecheck import LOST_DESCRIPTION, Pending, ReadStore, Settled, StoreSettle
from engine.core.storecheck import Wait as StoreWait
from engine.errors import (
    AmbiguousSendError,
    AuthError,
    AuthServiceError,
    BadAnswerError,
    BadBodyError,
    EngineError,
    NotSentError,
    StoppedError,
    StoppedReconciling,
)
from engine.rc.client import ApiClient
from engine.rc.ratebudget import unless_stopped
from engine.rc.transport import Reply, error_of, page_of
from engine.run.events import ChunkSubmitted
from engine.run.recorder import Recorder
from engine.run.report import ChunkRecord, now_iso
from engine.run.resume import check_rebuilt, server_time

# (records read so far, share of the input consumed when it is known)
ReadProgress = Callable[[int, float | None], None]
Rebuild = Callable[[int], Awaitable[Chunk]]
Chunks = Iterator[Chunk] | AsyncIterator[Chunk]

ON_AMBIGUOUS = ("reconcile", "resend", "fail")
ADOPTED_NOTE = ("answer lost; adopted the batch found on the server: its server rejections "
                "are recovered from its message store once it completes")
DATE_MARGIN = 60.0  # seconds before the request: the Date header's second and clock drift


def _no_progress(records: int, share: float | None) -> None:
    return None


def _no_share() -> float | None:
    return None


class Follower(Protocol):
    """What follows accepted batches to Completed (the tracker)."""

    def add(self, record: ChunkRecord) -> None: ...

    async def follow(self) -> None: ...

    def done(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RunSettings:
    """What a run is told, fixed for its lifetime."""

    settings: Settings
    sender: str
    text: str | None
    on_ambiguous: str = "reconcile"
    resume_since: float | None = None  # server clock: where a resumed run's history begins


class Sender:
    """Sends one run's chunks. Its state is its own: the records are the recorder's."""

    def __init__(self, run: RunSettings, client: ApiClient, chunker: Chunker,
                 recorder: Recorder, *, stopping: anyio.Event | None = None,
                 rebuild: Rebuild | None = None, on_read: ReadProgress = _no_progress,
                 sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        """``rebuild`` gives a chunk of a file again from the input (None: the input cannot
        be read twice), so a chunk waiting on a lost answer need not hold its body."""
        self.run = run
        self.settings = run.settings
        self.client = client
        self.chunker = chunker
        self.recorder = recorder
        self.stopping = stopping or anyio.Event()
        self.submitted = anyio.Event()
        self.sleep = sleep
        self.clock = clock
        self._rebuild = rebuild
        self._on_read = on_read
        self._rng = rng or random.Random()
        self._rules = run.settings.retry
        self._first_sent: dict[int, float] = {}  # chunk number -> clock at its first POST
        self._owned: set[str] = set()
        self._adopted_chunks: dict[int, Chunk] = {}
        self._produced = 0
        self._pending: TaskGroup | None = None  # reconciliations, beside the workers
        self._parked = anyio.Semaphore(2)
        self._slots = anyio.CapacityLimiter(run.settings.concurrency)
        self._follower: Follower | None = None

    def own(self, batch_ids: set[str]) -> None:
        """Batches this run made (a resumed run's journal): never adopted for another chunk."""
        self._owned |= batch_ids

    def _accepted(self, record: ChunkRecord) -> None:
        if self._follower is not None:
            self._follower.add(record)

    async def execute(self, source: Chunks, local: list[Rejection],
                      in_flight: list[Chunk | dict[str, Any]],
                      follower: Follower | None, share: Callable[[], float | None] = _no_share
                      ) -> bool:
        """Send everything ``source`` gives and recover what ``in_flight`` holds; with a
        ``follower``, accepted batches are tracked beside the sending. True when stopped."""
        self._follower = follower
        if follower is not None:
            for record in self.recorder.records.values():
                if record.state == lifecycle.ACCEPTED:
                    follower.add(record)
        send_stream, receive_stream = anyio.create_memory_object_stream[Chunk](0)
        async with anyio.create_task_group() as group:
            if follower is not None:
                # a stop ends tracking at once, even mid-poll: polls create nothing
                group.start_soon(unless_stopped, self.stopping, follower.follow)
            async with anyio.create_task_group() as pending:
                self._pending = pending  # lost answers are reconciled here
                for caught in in_flight:
                    pending.start_soon(self.recover, caught)
                pending.start_soon(self.produce, source, send_stream, local, share)
                async with anyio.create_task_group() as workers, receive_stream:
                    for _ in range(self.settings.concurrency):
                        workers.start_soon(self.work, receive_stream.clone())
            self._pending = None
            self.submitted.set()
            if follower is not None:
                follower.done()
        return self.stopping.is_set()

    async def produce(self, chunks: Chunks, out: ObjectSendStream[Chunk],
                      local: list[Rejection], share: Callable[[], float | None]) -> None:
        """Feed chunks to the workers; a zero-buffer stream means at most concurrency + 1
        bodies exist. Sync sources are read in a worker thread so uploads keep flowing."""
        async with out:
            while not self.stopping.is_set():
                if isinstance(chunks, Iterator):
                    chunk = await anyio.to_thread.run_sync(next, chunks, None)
                else:
                    chunk = await anext(chunks, None)
                await self.flush_local(local)
                if chunk is None:
                    return
                self._produced += chunk.count
                self._on_read(self._produced + self.recorder.aggregator.rejected_local, share())
                try:
                    await out.send(chunk)
                except anyio.BrokenResourceError:
                    return  # the workers ended on an error (no token): the run reports it

    async def recover(self, caught: Chunk | dict[str, Any]) -> None:
        """A chunk the journal shows in flight at the stop: it may or may not have been
        created, so it goes through the same reconciliation as a lost answer."""
        if isinstance(caught, dict):
            record = self.recorder.records[caught["chunk"]]
            if record.state != lifecycle.AMBIGUOUS:
                record.move(lifecycle.AMBIGUOUS)
            self.recorder.move(record, lifecycle.UNKNOWN, Reason.NOT_REREADABLE,
                               "in flight when the run stopped, and the input cannot be read "
                               "again to reconcile it (not a file)")
            return
        record = self.recorder.records[caught.number]
        if record.state != lifecycle.SUBMITTING:
            record.move(lifecycle.SUBMITTING)
        record.error = {"errorCode": NO_ANSWER, "message": "in flight when the run stopped"}
        sent = server_time(record.submitted_at, self.client.server_now() - time.time())
        if not await self.settle_ambiguous(caught, record, since=self.run.resume_since,
                                           created_after=sent):
            async with self._slots:
                await self.submit(caught, record)

    async def flush_local(self, local: list[Rejection]) -> None:
        """Report local rejections the reader collected since the last chunk."""
        taken, local[:] = list(local), []
        await self.recorder.local(taken)

    async def work(self, chunks: ObjectReceiveStream[Chunk]) -> None:
        async with chunks:
            async for chunk in chunks:
                if self.stopping.is_set():  # after a stop, chunks are drained, never recorded
                    continue
                async with self._slots:
                    await self.submit(chunk, self.recorder.record_for(chunk))

    async def submit(self, chunk: Chunk, record: ChunkRecord) -> None:
        """Send one chunk until it is accepted, failed, split or left unknown; what each
        answer leads to is ``policy.decide``'s call."""
        record.move(lifecycle.SUBMITTING)
        while True:
            if self.stopping.is_set():
                self.hold(record)
                return
            record.attempts += 1
            self._first_sent.setdefault(record.number, self.clock())
            record.submitted_at = now_iso()
            record.reason = None
            # "submitting" is on disk before the request goes out
            self.recorder.move(record, lifecycle.SUBMITTING)
            sent_at = self.client.server_now()  # a lost batch was created after this
            try:
                reply = await self.client.post_batch(chunk.body)
                verdict = classify(reply.status)
                if verdict is Verdict.AMBIGUOUS:  # kept: the proof a resume reads
                    code, message = error_of(reply)
                    record.error = {"status": reply.status, "errorCode": code,
                                    "message": message}
            except StoppedError:
                record.attempts -= 1  # it never went out
                self.hold(record)
                return
            except (AuthError, AuthServiceError) as exc:  # no token: no batch was created
                record.error = {"errorCode": NOT_SENT, "message": f"no access token: {exc}"}
                await self.fail(record, None, Reason.GAVE_UP)
                raise  # the run ends; --resume sends this chunk again
            except (NotSentError, AmbiguousSendError) as exc:
                went_out = isinstance(exc, AmbiguousSendError)
                reply, verdict = Reply(0), unanswered(went_out)
                record.error = {"errorCode": NO_ANSWER if went_out else NOT_SENT,
                                "message": str(exc)}
            except BadBodyError as exc:  # an answer too large to read: the status is all
                reply, verdict = Reply(exc.status), classify(exc.status)
                record.error = {"errorCode": BAD_ANSWER, "message": str(exc)}
                if verdict is Verdict.OK:
                    await self.leave_unknown(record)
                    return
            # an answer that holds the budget back (429, 503 with Retry-After) is waited for
            # there, not here; the chunk's time counts from its first request
            step = decide(verdict, record.attempts,
                          self.clock() - self._first_sent[record.number],
                          self.client.asked_wait(reply), rules=self._rules, rng=self._rng)
            if step.action is Action.DONE:
                try:
                    answer = reply.json()
                except BadBodyError as exc:
                    record.error = {"errorCode": BAD_ANSWER, "message": f"{exc}"}
                    await self.leave_unknown(record)
                    return
                await self.accept(chunk, record, answer)
                return
            if step.action is Action.SPLIT:
                await self.split(chunk, record)
                return
            if step.action in (Action.FAIL, Action.GIVE_UP):
                await self.fail(record, reply, Reason.REFUSED if step.action is Action.FAIL
                                else Reason.GAVE_UP)
                return
            if step.action is Action.RECONCILE and self._pending is not None and \
                    self.run.on_ambiguous == "reconcile":
                await self.park(chunk, record, sent_at)
                return
            if step.action is Action.RECONCILE:
                if await self.settle_ambiguous(chunk, record, since=sent_at):
                    return
                if await self.gave_up_absent(record, reply):
                    return
                continue  # proved not created (or resend was asked for): send again at once
            if step.delay:  # a 429 already holds the budget back for the penalty
                await unless_stopped(self.stopping, self.sleep, step.delay)  # a stop cuts it

    async def gave_up_absent(self, record: ChunkRecord, reply: Reply | None) -> bool:
        """After a lost answer proved absent, the chunk is a plain retry (certain-safe: the
        next ambiguity starts its own window): True when the policy says the attempts or the
        chunk's time (``retry.chunk_deadline``) ran out, and the chunk has failed."""
        elapsed = self.clock() - self._first_sent.get(record.number, self.clock())
        why = self._rules.exhausted(Kind.CREATE, record.attempts, elapsed)
        if why is None:
            return False
        self._first_sent.pop(record.number, None)
        if self.run.on_ambiguous != "reconcile":
            await self.fail(record, reply, Reason.GAVE_UP)
            return True
        await self.fail(record, reply, Reason.PROVED_ABSENT,
                        note=f"not sent: none of its {record.attempts} requests created a "
                             "batch (each answer was lost or a 5xx, and each was proved absent "
                             f"on the server) and {why}; a2p send --resume JOURNAL sends it "
                             "again")
        return True

    def hold(self, record: ChunkRecord) -> None:
        """The run stopped before this chunk's request went out: planned again, so --resume
        sends it without having to reconcile anything."""
        self.recorder.move(record, lifecycle.PLANNED, Reason.HELD,
                           "not sent: the run stopped before its request went out")

    async def accept(self, chunk: Chunk, record: ChunkRecord, body: Any) -> None:
        """``body``: the batch the server created, from its answer or found by
        reconciliation."""
        aggregator = self.recorder.aggregator
        try:
            batch_id, size = body["id"], body["batchSize"]
            if not isinstance(batch_id, str) or type(size) is not int:
                raise BadAnswerError(f"batch answer has id {batch_id!r} and batchSize "
                                     f"{size!r}")
            translated = aggregator.add_chunk(chunk.index, batch_id, body.get("rejected") or [])
        except (BadAnswerError, KeyError, TypeError) as exc:
            record.error = {"errorCode": BAD_ANSWER, "message": f"{exc}"}
            await self.leave_unknown(record)
            return
        record.batch_id, record.batch_size = batch_id, size
        record.created = body.get("creationTime")
        self.client.note_creation(record.created)
        record.error = None
        self.recorder.move(record, lifecycle.ACCEPTED,
                           rejected=[r.as_json() for r in translated])
        self._owned.add(batch_id)
        self._accepted(record)
        await self.recorder.emit(ChunkSubmitted(
            record.number, batch_id, record.first, record.last, record.count, size,
            record.bytes, record.attempts, len(translated)))
        await self.recorder.rejected(translated)

    async def leave_unknown(self, record: ChunkRecord) -> None:
        """Created (2xx) but unreadable: it may hold SMS now, so it is never resent."""
        if record.state != lifecycle.AMBIGUOUS:
            record.move(lifecycle.AMBIGUOUS)
        self.recorder.move(record, lifecycle.UNKNOWN, Reason.UNREADABLE,
                           "the server accepted the request but its answer could not be "
                           "read; check this range on RingCentral before sending it again")
        await self.recorder.failed(record)

    async def fail(self, record: ChunkRecord, reply: Reply | None, reason: Reason,
                   note: str | None = None) -> None:
        if reply is not None and reply.status:
            code, message = error_of(reply)
            record.error = {"status": reply.status, "errorCode": code, "message": message}
        if reason is not Reason.REFUSED and record.error is not None:
            record.error["message"] = (f"gave up after {record.attempts} attempts: "
                                       f"{record.error.get('message', '')}")
        self.recorder.move(record, lifecycle.FAILED, reason, note)
        await self.recorder.failed(record)

    async def split(self, chunk: Chunk, record: ChunkRecord) -> None:
        """413: send the chunk as two halves, and lower the byte limit for the rest."""
        if chunk.count < 2:
            record.error = {"status": 413, "errorCode": "AGW-413",
                            "message": "one message alone is too large"}
            await self.fail(record, None, Reason.REFUSED)
            return
        limit = self.chunker.lower_limit(max(1024, len(chunk.body) // 2))
        self.recorder.move(record, lifecycle.SPLIT, Reason.TOO_LARGE,
                           f"413: split in two; byte limit lowered to {limit}",
                           maxBatchBytes=limit)
        for half in halves(chunk, self.chunker.new_number(), self.chunker.new_number()):
            await self.submit(half, self.recorder.record_for(half))

    async def park(self, chunk: Chunk, record: ChunkRecord, sent_at: float) -> None:
        """Reconcile a lost answer beside the workers, not in a sending slot. A chunk the
        input can give again drops its body meanwhile; any other keeps it under a small
        limiter, and a worker waiting for that limiter stops the reading."""
        record.move(lifecycle.AMBIGUOUS)
        expected = self.expected_of(chunk)
        light = self._rebuild is not None
        if light:
            chunk = Chunk(chunk.number, b"", chunk.size, chunk.index, chunk.start_offset)
        else:
            await self._parked.acquire()
        assert self._pending is not None
        self._pending.start_soon(self._reconcile_parked, chunk, record, expected, light,
                                 sent_at)

    async def _reconcile_parked(self, chunk: Chunk, record: ChunkRecord, expected: Expected,
                                light: bool, sent_at: float) -> None:
        try:
            if await self.settle_ambiguous(chunk, record, expected, sent_at):
                return
            if await self.gave_up_absent(record, None):
                return
            if light and self._rebuild is not None:
                chunk = await self._rebuild(chunk.number)
                check_rebuilt(chunk.number, self.expected_of(chunk), expected)
        finally:
            if not light:
                self._parked.release()
        async with self._slots:
            await self.submit(chunk, record)

    def expected_of(self, chunk: Chunk) -> Expected:
        body = orjson.loads(chunk.body)
        text = body.get("text")
        return Expected.of(self.run.sender, ((m["to"][0], m.get("text", text))
                                             for m in body["messages"]))

    async def settle_ambiguous(self, chunk: Chunk, record: ChunkRecord,
                               expected: Expected | None = None,
                               since: float | None = None,
                               created_after: float | None = None) -> bool:
        """True when the chunk is settled (adopted or unknown); False when it may be
        resent."""
        if record.state != lifecycle.AMBIGUOUS:
            record.move(lifecycle.AMBIGUOUS)
        if self.run.on_ambiguous == "resend":
            record.move(lifecycle.SUBMITTING)
            return False
        reason, note = None, record.note
        if self.run.on_ambiguous == "reconcile":
            try:
                step = await self.find_batch(expected or self.expected_of(chunk), since,
                                             created_after)
            except EngineError as exc:
                reason, note = Reason.NOT_RECONCILED, f"could not reconcile: {exc}"
            else:
                if isinstance(step, Adopt):
                    await self.adopt(chunk, record, step.batch)
                    return True
                if isinstance(step, Absent):
                    record.move(lifecycle.SUBMITTING)
                    return False
                reason = Reason.NOT_RECONCILED
                note = f"could not reconcile: {step.reason}; resume the run later to " \
                       "look again, or check this range on RingCentral"
        self.recorder.move(record, lifecycle.UNKNOWN, reason, note)
        await self.recorder.failed(record)
        return True

    async def adopt(self, chunk: Chunk, record: ChunkRecord, batch: dict[str, Any]) -> None:
        record.note = ADOPTED_NOTE
        record.reason = Reason.ADOPTED
        record.adopted = True
        if self._rebuild is None:
            self._adopted_chunks[record.number] = chunk  # to recover its rejections later
        # a listing gives no rejections: they are recovered once the batch completes
        await self.accept(chunk, record, {**batch, "rejected": []})
        self.hold_unproven(record)

    def hold_unproven(self, record: ChunkRecord) -> None:
        """An adopted batch holds ``batchSize`` of the chunk's recipients: until its store
        names the others (rejected), they are pending, never counted sent."""
        unknown = record.count - (record.batch_size or record.count)
        if record.state == lifecycle.ACCEPTED and unknown > 0:
            self.recorder.aggregator.recovered([], unknown, 0)
            record.pending = unknown
            self.recorder.save(record)

    async def find_batch(self, expected: Expected, since: float | None = None,
                         created_after: float | None = None) -> Adopt | Absent | Undecided:
        """The thin loop around the reconciliation decision: it only reads and sleeps.

        ``dateFrom`` is a minute before ``since``, the server's clock (its Date header) when
        the request went out, or where a resumed run's history begins; now when not given.
        Only a batch created after ``created_after`` (default ``since``) can be the
        request's."""
        retry = self.settings.retry
        sent = self.client.server_now() if since is None else since
        start = sent - DATE_MARGIN
        search = Reconciliation(expected, self._owned, started=self.clock(),
                                created_after=sent if created_after is None else created_after,
                                window=retry.reconcile_window,
                                date_from=datetime.fromtimestamp(start, UTC).isoformat(),
                                interval=max(retry.backoff_initial, 0.01),
                                max_interval=max(retry.backoff_max, 0.01))
        while True:
            step = search.next(self.clock())
            if isinstance(step, Wait):
                if not await unless_stopped(self.stopping, self.sleep, step.seconds):
                    raise StoppedReconciling("the run was stopped while the batch was being "
                                             "looked for on the server")
            elif isinstance(step, ReadListing):
                search.listing(*page_of(await self.client.get_json(
                    "/batches", {"perPage": 1000, **step.params})))
            elif isinstance(step, ReadMessages):
                records, _ = page_of(await self.client.get_json("/messages", step.params))
                search.messages(step.batch_id, records)
            elif isinstance(step, Adopt) and step.batch["id"] in self._owned:
                search.disown(step.batch["id"])  # another chunk's lost request made it
            else:
                if isinstance(step, Adopt):
                    self._owned.add(step.batch["id"])
                return step

    @staticmethod
    def needs_recovery(record: ChunkRecord) -> bool:
        """An adopted batch whose server rejections are not read back yet."""
        return record.reason in (Reason.ADOPTED, Reason.PENDING) and record.batch_id is not None

    async def recover_rejections(self, record: ChunkRecord) -> None:
        """An adopted batch has completed: every recipient of the chunk its message store
        does not hold was rejected, and the code it gave was lost with the answer; but only
        once the store lists the whole batch (engine/core/storecheck.py). Until then the store is
        read again within the Light budget; when ``store_window`` passes first, the absent
        recipients are left pending for a resume or ``a2p outcomes`` to settle."""
        if not self.needs_recovery(record):
            return
        assert record.batch_id is not None
        chunk = self._adopted_chunks.pop(record.number, None)
        why = "the input cannot be read again here"
        if chunk is None and self._rebuild is not None:
            try:
                chunk = await self._rebuild(record.number)
            except EngineError as exc:
                why = f"the input could not be read again ({exc})"
        if chunk is None:
            self._unnamed(record, why)
            return
        tos = [m["to"][0] for m in orjson.loads(chunk.body)["messages"]]
        step = await self._settle_store(record.batch_id, tos, record.batch_size)
        aggregator = self.recorder.aggregator
        was_pending = record.pending or 0
        if isinstance(step, Pending):
            aggregator.recovered([], len(step.missing), was_pending)
            record.reason, record.pending = Reason.PENDING, len(step.missing)
            record.note = (f"answer lost; adopted the batch found on the server; "
                           f"{step.reason}: {len(step.missing):,} recipients are pending "
                           "(they may have been texted). Resume the run or run 'a2p outcomes' "
                           "later to settle them.")
            self.recorder.save(record)
            return
        missing = lost_rejections(chunk, step.missing, record.batch_id)
        aggregator.recovered(missing, 0, was_pending)
        record.reason, record.pending = Reason.RECOVERED, None
        record.note = f"answer lost; adopted the batch found on the server; {len(missing)} " \
                      "server rejections recovered from its message store"
        self.recorder.save(record, rejected=[r.as_json() for r in missing])
        await self.recorder.rejected(missing)

    def _unnamed(self, record: ChunkRecord, why: str) -> None:
        """Without the chunk nobody can be named: the batch's ``batchSize`` accepted messages
        are sent, and the rest, rejected by the server or not, stay pending (``a2p outcomes``
        with the input names them)."""
        unknown = max(0, record.count - (record.batch_size or 0))
        self.recorder.aggregator.recovered([], unknown, record.pending or 0)
        if not unknown:  # the batch holds every recipient: nobody was rejected
            record.reason, record.pending = Reason.RECOVERED, None
            record.note = f"{ADOPTED_NOTE}; it holds every recipient of the chunk"
        else:
            record.reason, record.pending = Reason.PENDING, unknown
            record.note = (f"answer lost; adopted the batch found on the server; {why}, so "
                           f"which {unknown:,} of its recipients the server rejected is not "
                           "known: they are pending. 'a2p outcomes' with the input names them.")
        self.recorder.save(record)

    async def _settle_store(self, batch_id: str, tos: list[str], size: int | None
                            ) -> Settled | Pending:
        """The thin loop around the store decision: it only reads and sleeps."""
        retry = self.settings.retry
        settle = StoreSettle(tos, len(tos) if size is None else size, started=self.clock(),
                             window=retry.store_window,
                             interval=max(retry.backoff_initial, 0.01),
                             max_interval=max(retry.backoff_max, 0.01))
        while True:
            step = settle.next(self.clock())
            if isinstance(step, StoreWait):
                await self.sleep(step.seconds)  # a stop cancels the tracker, and this with it
            elif isinstance(step, ReadStore):
                try:
                    held, listed = await self._read_store(batch_id)
                except EngineError as exc:
                    settle.failed(str(exc))
                else:
                    settle.read(held, listed)
            else:
                return step

    async def _read_store(self, batch_id: str) -> tuple[Counter[str], int]:
        """Every page of the batch's messages: how many of each number, and how many in all."""
        held: Counter[str] = Counter()
        listed = 0
        params: dict[str, Any] = {"batchId": batch_id, "perPage": 1000}
        walk = PageWalk(f"GET .../messages of batch {batch_id}")
        while True:
            records, token = walk.page(page_of(await self.client.get_json("/messages",
                                                                           params)))
            listed += len(records)
            held.update(m["to"][0] for m in records
                        if isinstance(m, dict) and isinstance(m.get("to"), list) and m["to"]
                        and m.get("batchId", batch_id) == batch_id)
            if not token:
                return held, listed
            params["pageToken"] = token


def lost_rejections(chunk: Chunk, missing: tuple[int, ...], batch_id: str) -> list[Rejection]:
    """The recipients of ``chunk`` at ``missing`` (1-based indexes into its messages), as
    server rejections whose code was lost with the answer."""
    body = orjson.loads(chunk.body)
    out: list[Rejection] = []
    for k in missing:
        position, line = chunk.index.locate(k)
        out.append(Rejection(position, line, body["messages"][k - 1]["to"][0], LOST_CODE,
                             LOST_DESCRIPTION, batch_id, SERVER))
    return out


def halves(chunk: Chunk, first: int, second: int) -> tuple[Chunk, Chunk]:
    data = orjson.loads(chunk.body)
    messages = data.pop("messages")
    cut = len(messages) // 2
    located = [chunk.index.locate(i) for i in range(1, chunk.count + 1)]
    out = []
    for number, part, where in ((first, messages[:cut], located[:cut]),
                                (second, messages[cut:], located[cut:])):
        body = orjson.dumps({**data, "messages": part})
        index = PositionIndex()
        for position, line in where:
            index.extend([position], None if line is None else [line])
        out.append(Chunk(number, body, len(body), index))
    return out[0], out[1]
