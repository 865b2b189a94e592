"""Submitting chunks: concurrent workers with back-pressure, every failure classified by the
one retry policy (engine/core/policy.py) before anything is retried, and never a blind resend
of a request that may have been processed.

``RunSettings`` is what a run is told and never changes; the ``Recorder`` owns the records,
the journal and the events (every state change goes through its journaled ``move``); the
``Sender`` owns the workers and the limiters; a request whose answer was lost is handed to
``LostAnswers`` (engine/run/lostanswers.py), which hands it back through the ``Outlet``
methods (``accept``, ``resend``, ``gave_up_absent``). Nothing outside sets their fields.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from operator import attrgetter
from typing import Any, Protocol

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from engine.batching.bodyscan import RejectedRecipients
from engine.batching.chunker import Chunk, Chunker, StoredBodyError
from engine.batching.halves import halves
from engine.core import lifecycle
from engine.core.lifecycle import Reason
from engine.core.policy import (
    BAD_ANSWER,
    NO_ANSWER,
    NOT_SENT,
    Action,
    Kind,
    Verdict,
    answer_fault,
    classify,
    decide,
    rejected_fault,
    unanswered,
)
from engine.core.reconcile import CLOCK_MARGIN, SentAt
from engine.core.rejections import Rejection, translate
from engine.errors import (
    AmbiguousSendError,
    AuthError,
    AuthServiceError,
    BadAnswerError,
    BadBodyError,
    NotSentError,
    StoppedError,
)
from engine.rc.client import ApiClient
from engine.rc.ratebudget import unless_stopped
from engine.rc.transport import Reply, error_of, from_ringcentral
from engine.run.consentrefresh import ConsentRefresh, screened
from engine.run.events import ChunkSubmitted
from engine.run.localqueue import LocalRejections
from engine.run.lostanswers import LostAnswers
from engine.run.options import ReadProgress, RunSettings
from engine.run.recorder import Recorder
from engine.run.report import ChunkRecord, stamp
from engine.run.sources import ReadStopped
from engine.run.storerecovery import UNCHECKED_NOTE, Rebuild
from engine.run.tracker import Tracking
from engine.schedule.pacing import OnWire, Pacing

Chunks = Iterator[Chunk] | AsyncIterator[Chunk]

__all__ = ["Chunks", "Follower", "RunSettings", "Sender"]


def attempts(count: int) -> str:
    """ "1 attempt", "2 attempts"."""
    return f"{count} attempt{'' if count == 1 else 's'}"


def _no_progress(records: int, share: float | None) -> None:
    return None


def _no_share() -> float | None:
    return None


class Follower(Protocol):
    """What follows accepted batches to Completed (the tracker)."""

    def add(self, record: ChunkRecord) -> None: ...

    async def follow(self) -> None: ...

    def done(self) -> None: ...


class Sender:
    """Sends one run's chunks. Its state is its own: the records are the recorder's."""

    def __init__(self, run: RunSettings, client: ApiClient, chunker: Chunker,
                 recorder: Recorder, *, stopping: anyio.Event | None = None,
                 rebuild: Rebuild | None = None, on_read: ReadProgress | None = None,
                 sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        """``rebuild`` gives a chunk of a file again from the input (None: the input cannot
        be read twice), so a chunk waiting on a lost answer need not hold its body.
        ``clock`` measures time; ``wall`` is the calendar clock (epoch seconds)."""
        self.run = run
        self.settings = run.settings
        self.client = client
        self.chunker = chunker
        self.recorder = recorder
        self.stopping = stopping or anyio.Event()
        self.submitted = anyio.Event()
        self.sleep = sleep
        self.clock = clock
        self.wall = wall
        self._on_read = on_read or _no_progress
        self._rng = rng or random.Random()
        self._rules = run.settings.retry
        # chunk number -> clock at its first answer: a wait for the budget before it is not
        # the chunk's time (chunk_deadline)
        self._first_sent: dict[int, float] = {}
        # chunks whose answer was lost, counted queued in the pacing then (their batch may
        # be on the server): not counted again when it is adopted
        self._paced_lost: set[int] = set()
        self._produced = 0
        self._slots = anyio.CapacityLimiter(run.settings.concurrency)
        self._follower: Follower | None = None
        # once the opt-outs are read: the gate's screen (engine/run/gate.py), for a chunk a
        # run before cut, sent again; and their reading again within --max-consent-age
        # before each chunk's first POST (engine/run/consentrefresh.py)
        self.screen: Callable[[Chunk], list[tuple[int, Rejection]]] | None = None
        self.consent: ConsentRefresh | None = None
        # a scheduled round's deadline (epoch seconds, engine/run/rounds.py): from then on no
        # chunk is POSTed; one cut and not yet journaled is dropped (it never went out)
        self.deadline: float | None = None
        # and why the round holds a chunk (its windows closed, the day's cap): None, it may go
        self.holds: Callable[[Chunk], str | None] | None = None
        # and that the server can process by then, after what it has queued (a round's)
        self.pacing: Pacing | None = None
        self.lost = LostAnswers(run, client, recorder, self, stopping=self.stopping,
                                rebuild=rebuild, sleep=sleep, clock=clock, wall=wall)
        self.tracking = Tracking(client, run.settings.polling, run.sender, recorder,
                                 self.stopping, self.submitted, clock, sleep, wall,
                                 self.lost.recover_rejections)

    def own(self, batch_ids: Iterable[str]) -> None:
        """Batches this run made (a resumed run's journal): never adopted for another chunk."""
        self.lost.own(batch_ids)

    def _accepted(self, record: ChunkRecord) -> None:
        if self.pacing is not None and record.number not in self._paced_lost:
            self.pacing.accepted(record.batch_size or 0, self.wall())
        if self._follower is not None:
            self._follower.add(record)

    async def execute(self, source: Chunks, local: LocalRejections,
                      in_flight: list[Chunk | dict[str, Any]],
                      follower: Follower | None, share: Callable[[], float | None] = _no_share
                      ) -> bool:
        """Send everything ``source`` gives and recover what ``in_flight`` holds; with a
        ``follower``, accepted batches are tracked beside the sending. True when stopped."""
        self._follower = follower

        async def drained() -> None:  # the reader's rejections, every 8,192: the progress
            await self.flush_local(local)  # moves on a list of bad rows before any batch
            self._on_read(self._produced + self.recorder.aggregator.rejected_local, share())

        local.bind(drained)
        if self.pacing is not None:  # a round's start: the batches the polls sum change
            self.pacing.rebase()
            if not in_flight and not any(record.state in lifecycle.MAY_BE_QUEUED
                                         for record in self.recorder.records.values()):
                self.pacing.idle(self.wall())
        if follower is not None:
            for record in self.recorder.records.values():
                if record.state == lifecycle.ACCEPTED:
                    follower.add(record)
        send_stream, receive_stream = anyio.create_memory_object_stream[Chunk](0)
        async with anyio.create_task_group() as group:
            if follower is not None:
                # a stop ends tracking at once, even mid-poll: polls create nothing
                group.start_soon(unless_stopped, self.stopping, follower.follow)
            async with self.lost.reconciling() as pending:  # lost answers, beside the workers
                for caught in in_flight:
                    pending.start_soon(self.lost.recover, caught)
                pending.start_soon(self.produce, source, send_stream, local, share)
                async with anyio.create_task_group() as workers, receive_stream:
                    for _ in range(self.settings.concurrency):
                        workers.start_soon(self.work, receive_stream.clone())
            self.submitted.set()
            if follower is not None:
                follower.done()
        return self.stopping.is_set()

    async def produce(self, chunks: Chunks, out: ObjectSendStream[Chunk],
                      local: LocalRejections, share: Callable[[], float | None]) -> None:
        """Feed chunks to the workers; a zero-buffer stream means at most concurrency + 1
        bodies exist. Sync sources are read in a worker thread so uploads keep flowing."""
        async with out:
            while not self.stopping.is_set():
                try:
                    if isinstance(chunks, Iterator):
                        chunk = await anyio.to_thread.run_sync(next, chunks, None)
                    else:
                        chunk = await anext(chunks, None)
                except ReadStopped:  # a stop heard between two blocks: no chunk of them
                    await self.flush_local(local)
                    return
                await self.flush_local(local)
                if chunk is None:
                    return
                self._produced += chunk.count
                self._on_read(self._produced + self.recorder.aggregator.rejected_local, share())
                try:
                    await out.send(chunk)
                except anyio.BrokenResourceError:
                    return  # the workers ended on an error (no token): the run reports it
                del chunk  # the worker's now: not held here while the next one is built

    async def flush_local(self, local: LocalRejections) -> None:
        """Report the local rejections the reader collected since the last flush."""
        await self.recorder.local(local.take())

    async def work(self, chunks: ObjectReceiveStream[Chunk]) -> None:
        async with chunks:
            async for each in chunks:
                # after a stop, chunks are drained, never recorded; opt-outs too old are read
                # again and the chunk screened first (None: no one left in it, or a stop)
                chunk = None if self.stopping.is_set() else \
                    each if self.consent is None else await self.consent.first_post(each)
                del each
                if chunk is not None:
                    async with self._slots:
                        # past the deadline, or no room for it in what the server
                        # processes by then: never journaled, a later round cuts its
                        # records again
                        if not self.late() and self.paced(chunk):
                            await self.submit(chunk, self.recorder.record_for(chunk))
                        else:
                            self._gone(chunk.count)
                # not held while this worker waits for the next: its index (and a spooled
                # body's file) goes as soon as nothing else needs the chunk
                del chunk

    async def resend(self, chunk: Chunk, record: ChunkRecord) -> None:
        """A chunk proved not created (a lost answer): sent again, in a sending slot."""
        async with self._slots:
            await self.submit(chunk, record)

    async def resend_caught(self, chunk: Chunk, record: ChunkRecord) -> None:
        """A chunk a run before cut, proved not created: the recipients this run's consents
        suppress (an opt-out that came during the stop) are rejected locally, and the rest
        is sent as a new chunk; the old one is journaled split, so no reader counts its
        records twice. Never is a body holding a suppressed number sent again.

        The split is journaled before the rejections: a kill between the two leaves a split
        chunk whose records no chunk holds, which a resume reads again (and screens); the
        other way round it would leave the chunk in flight with some of its records rejected,
        which no resume could rebuild."""
        why = self.held_by(chunk)  # asked of the chunk cut before: its kept part's new
        if why is not None:  # number must not pass for it
            self.hold(record, why)
            return
        if self.consent is not None:  # read again if too old (a failed read stops the run)
            await self.consent.current()

        def split(gone: int) -> None:
            self.recorder.move(record, lifecycle.SPLIT, Reason.OPTED_OUT,
                               f"proved not sent; {gone:,} of its recipients opted out "
                               "while the run was stopped: the rest sent as a new chunk",
                               via=lifecycle.SUBMITTING)

        kept, gone = await screened(chunk, self.screen, self.recorder, self.chunker.new_number,
                                    self.chunker.sinks, before=split)
        if gone:
            if kept is None:
                return
            chunk, record = kept, self.recorder.record_for(kept)
        await self.resend(chunk, record)

    async def submit(self, chunk: Chunk, record: ChunkRecord) -> None:
        """Send one chunk until it is accepted, failed, split or left unknown; what each
        answer leads to is ``policy.decide``'s call."""
        while True:
            why = self.held_by(chunk)
            if why is not None:
                self._gone(chunk.count)
                self.hold(record, why)
                return
            record.attempts += 1
            record.submitted_at = stamp(self.wall())
            record.reason = None
            # "submitting" is on disk before the request goes out
            self.recorder.move(record, lifecycle.SUBMITTING)
            sent_at = self.client.sent_at()  # a lost batch was created after this
            wire = OnWire(self.pacing, chunk.count, lambda: self.may_post(chunk))
            try:
                # asked again after the waits for a token and the rate budget
                reply = await self.client.post_batch(chunk.body, wire.starts)
                verdict = classify(reply.status, from_rc=from_ringcentral(reply))
                if verdict is Verdict.AMBIGUOUS:  # kept: the proof a resume reads
                    code, message = error_of(reply)
                    record.error = {"status": reply.status, "errorCode": code,
                                    "message": message}
            except StoppedError:
                record.attempts -= 1  # it never went out
                self._gone(0 if wire.sent else chunk.count)
                self.hold(record, self.held_by(chunk) or
                          "not sent: the run stopped before its request went out")
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
                    verdict = Verdict.AMBIGUOUS  # a 2xx unread: created or not, look
            finally:
                wire.answered()
            # an answer that holds the budget back (429, 503 with Retry-After) is waited for
            # there, not here; the chunk's time counts from the answer to its first request
            step = decide(verdict, record.attempts,
                          self.clock() - self._first_sent.setdefault(record.number,
                                                                     self.clock()),
                          self.client.asked_wait(reply), rules=self._rules, rng=self._rng)
            if step.action is Action.DONE:
                answer, why, unreadable = self.read_answer(chunk, reply, sent_at)
                if unreadable is not None:
                    await self.accept_unchecked(chunk, record, answer, unreadable)
                    return
                if why is None:
                    await self.accept(chunk, record, answer)
                    return
                # a gateway's page, a body cut short, another request's answer: it says
                # nothing sure about what this request created, so its batch is looked for
                record.error = {"status": reply.status, "errorCode": BAD_ANSWER,
                                "message": f"HTTP {reply.status} answer unusable: {why}"}
                step = decide(Verdict.AMBIGUOUS, record.attempts)
            if step.action is Action.SPLIT:
                await self.split(chunk, record)
                return
            if step.action in (Action.FAIL, Action.GIVE_UP):
                await self.fail(record, reply, Reason.REFUSED if step.action is Action.FAIL
                                else Reason.GAVE_UP)
                return
            if step.action is Action.RECONCILE:
                self._lost_queued(chunk, record, wire.sent)
            if step.action is Action.RECONCILE and self.lost.can_park:
                await self.lost.park(chunk, record, sent_at)
                return
            if step.action is Action.RECONCILE:
                if await self.lost.settle(chunk, record, sent=sent_at):
                    return
                if await self.gave_up_absent(record, reply):
                    return
                continue  # proved not created (or resend was asked for): send again at once
            if step.delay:  # a 429 already holds the budget back for the penalty
                await unless_stopped(self.stopping, self.sleep, step.delay)  # a stop cuts it

    def _lost_queued(self, chunk: Chunk, record: ChunkRecord, went_out: bool) -> None:
        """A request that went out and lost its answer may have made a batch the server
        queues now: the pacing counts it (once) from here, never freeing its room until the
        round ends; if it proves absent it stays counted, the careful side."""
        if self.pacing is not None and went_out and record.number not in self._paced_lost:
            self._paced_lost.add(record.number)
            self.pacing.accepted(chunk.count, self.wall())

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

    def read_answer(self, chunk: Chunk, reply: Reply, sent_at: SentAt
                    ) -> tuple[Any, str | None, StoredBodyError | None]:
        """A 2xx's batch, why it cannot be this chunk's (None: it can), and, when it is this
        chunk's batch but the body could not be read back to check its ``rejected``, why."""
        try:
            answer = reply.json()
        except BadBodyError as exc:
            return None, str(exc), None
        # uncalibrated in this run, a resumed journal's calibration judges the stamp: if the
        # clock was stepped since, a true answer is at worst reconciled (and adopted)
        offset = sent_at.offset if sent_at.calibrated else self.lost.journal_offset
        not_before = None if offset is None else sent_at.local + offset - CLOCK_MARGIN
        why = answer_fault(answer, chunk.count, self.lost.owned, not_before)
        if why is None and answer.get("rejected"):
            try:
                recipients = RejectedRecipients(chunk.body, chunk.count,
                                                answer["rejected"])
            except StoredBodyError as exc:  # the body file went or changed after the 201
                return answer, None, exc
            why = rejected_fault(answer["rejected"], recipients)
        return answer, why, None

    async def accept_unchecked(self, chunk: Chunk, record: ChunkRecord, answer: Any,
                               unreadable: StoredBodyError) -> None:
        """A 2xx made this chunk's batch (its id, size and time fit), but the body could not
        be read back to check the recipients its ``rejected`` names: the batch exists, so it
        is accepted and never sent again, and its rejections, unchecked, are not taken: as
        for a batch adopted after a lost answer, the recipients it does not hold are pending
        until its message store names them once it completes (the input read again)."""
        rejected = answer.get("rejected")
        count = len(rejected) if isinstance(rejected, list) else 0
        # the error's own words say nothing was sent, true before a request, not after a 201
        cause = unreadable.__cause__
        why = f"reading it failed: {cause}" if cause is not None else \
            "it changed on disk after it was sent"
        record.reason = Reason.UNCHECKED  # before the tracker can see it: recovered later
        record.note = (f"{UNCHECKED_NOTE} ({why}); the {count:,} rejections it named are read "
                       "back from the batch's message store once it completes, and those "
                       "recipients are pending until then")
        await self.accept(chunk, record, {**answer, "rejected": []})
        self.lost.hold_unproven(record)

    def stop_posting(self) -> None:
        """No chunk is POSTed from now on in this round (the carrier-cap halt)."""
        self.deadline = self.wall()

    def late(self) -> bool:
        """Past the round's deadline: no POST now (a window closes, --expire-at)."""
        return self.deadline is not None and self.wall() >= self.deadline

    def _gone(self, count: int) -> None:
        if self.pacing is not None:  # held or dropped: not pending in the round's quota
            self.pacing.gone += count

    def paced(self, chunk: Chunk) -> bool:
        """The server can process the chunk, after what it has queued, by the deadline."""
        return self.pacing is None or self.deadline is None or \
            self.pacing.fits(chunk.count, self.wall(), self.deadline)

    def may_post(self, chunk: Chunk) -> bool:
        """Whether the chunk's request may go out now (``held_by`` has nothing to say)."""
        return self.held_by(chunk) is None

    def hold(self, record: ChunkRecord,
             note: str = "not sent: the run stopped before its request went out") -> None:
        """The run stopped before this chunk's request went out, or a scheduled round held
        it (``note`` says which): planned again, so --resume (the next round) sends it
        without having to reconcile anything."""
        self.recorder.move(record, lifecycle.PLANNED, Reason.HELD, note,
                           via=lifecycle.SUBMITTING)

    def held_by(self, chunk: Chunk) -> str | None:
        """Why a chunk is held before its request (None: it may go): a stop, the round's
        deadline (its window closing less the margin, or --expire-at), or what the round
        says (``holds``: its recipients' window closed, the day's cap)."""
        if self.stopping.is_set():
            return "not sent: the run stopped before its request went out"
        if self.late():
            assert self.deadline is not None
            return (f"held: the round's deadline {stamp(self.deadline)} (its recipients' "
                    "window closing less the margin, or --expire-at) passed before its "
                    "request went out; a later round sends it")
        if not self.paced(chunk):
            assert self.pacing is not None
            self.pacing.unfit += 1
            return ("held: the server could not process it, after what it has queued, "
                    "before the round's deadline; a later round sends it")
        return None if self.holds is None else self.holds(chunk)

    async def accept(self, chunk: Chunk, record: ChunkRecord, body: Any) -> None:
        """``body``: the batch the server created, from its answer or found by
        reconciliation."""
        aggregator = self.recorder.aggregator
        try:
            batch_id, size = body["id"], body["batchSize"]
            if not isinstance(batch_id, str) or type(size) is not int:
                raise BadAnswerError(f"batch answer has id {batch_id!r} and batchSize "
                                     f"{size!r}")
            translated = translate(chunk.index, batch_id, body.get("rejected") or [])
        except (BadAnswerError, KeyError, TypeError) as exc:
            record.error = {"errorCode": BAD_ANSWER, "message": f"{exc}"}
            await self.leave_unknown(record)
            return
        record.batch_id, record.batch_size = batch_id, size
        record.created = body.get("creationTime")
        if not record.adopted:  # an adopted batch was created long before it was found
            self.client.note_creation(record.created)
        record.error = None
        self.recorder.move(record, lifecycle.ACCEPTED,
                           rejected=[r.as_json() for r in
                                     sorted(translated, key=attrgetter("index"))])
        # counted (and spilled) only once journaled: a spill that fails (a full disk) then
        # leaves a batch the journal knows was created, never one it must look for
        aggregator.add_answer(chunk.count, translated)
        self.lost.own((batch_id,))
        self._accepted(record)
        await self.recorder.emit(ChunkSubmitted(
            record.number, batch_id, record.first, record.last, record.count, size,
            record.bytes, record.attempts, len(translated)))
        await self.recorder.rejected(translated)

    async def leave_unknown(self, record: ChunkRecord) -> None:
        """A batch found or answered that could not be read as this chunk's: it may hold SMS
        now, so it is never resent; a resume looks for its batch again."""
        self.recorder.move(record, lifecycle.UNKNOWN, Reason.UNREADABLE,
                           "an answer came that could not be read as this chunk's batch; "
                           "a2p send --resume JOURNAL looks for its batch again (or check "
                           "this range on RingCentral before sending it again)",
                           via=lifecycle.AMBIGUOUS)
        await self.recorder.failed(record)

    async def fail(self, record: ChunkRecord, reply: Reply | None, reason: Reason,
                   note: str | None = None) -> None:
        if reply is not None and reply.status and not 200 <= reply.status < 300:
            code, message = error_of(reply)  # a 2xx's error (unusable) is already kept
            record.error = {"status": reply.status, "errorCode": code, "message": message}
        if reason is not Reason.REFUSED and record.error is not None:
            record.error["message"] = (f"gave up after {attempts(record.attempts)}: "
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
        # both halves built (their bodies spooled) before anything is journaled: a full
        # disk here leaves the chunk in flight, and a resume finds its 413 created nothing
        parts = halves(chunk, self.chunker.new_number(), self.chunker.new_number(),
                       self.chunker.sinks)
        records = self.recorder.split(record, parts,
                                      f"413: split in two; byte limit lowered to {limit}",
                                      maxBatchBytes=limit)
        for half, half_record in zip(parts, records, strict=True):
            await self.submit(half, half_record)
