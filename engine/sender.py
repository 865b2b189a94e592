"""Submitting chunks: concurrent workers with back-pressure, every failure classified before
anything is retried, and never a blind resend of a request that may have been processed."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
import orjson
from anyio.abc import ObjectReceiveStream, TaskGroup

from engine import lifecycle
from engine.chunker import Chunk, Chunker
from engine.chunkindex import PositionIndex
from engine.client import ApiClient, error_of
from engine.config import Settings
from engine.errors import AmbiguousSendError, EngineError, StoppedError
from engine.journal import Journal
from engine.paging import PageWalk
from engine.policy import Verdict, backoff, classify
from engine.ratebudget import unless_stopped
from engine.reconcile import (
    Absent,
    Adopt,
    Expected,
    ReadListing,
    ReadMessages,
    Reconciliation,
    Undecided,
    Wait,
)
from engine.rejections import SERVER, Aggregator, BadAnswerError, Rejection
from engine.report import ChunkRecord, now_iso
from engine.resume import check_rebuilt, server_time
from engine.transport import BadBodyError, NotSentError, Reply, page_of

Emit = Callable[[dict[str, Any]], Awaitable[None]]
# (records read so far, share of the input consumed when it is known)
ReadProgress = Callable[[int, float | None], None]


def _no_progress(records: int, share: float | None) -> None:
    return None
ON_AMBIGUOUS = ("reconcile", "resend", "fail")
ADOPTED_NOTE = ("answer lost; adopted the batch found on the server: its server rejections "
                "are recovered from its message store once it completes")
# A recipient an adopted batch holds no message for: the server rejected it, and which code
# it gave came back only in the 201 answer that was lost.
LOST_CODE = "A2P-CODE-LOST-WITH-ANSWER"
LOST_DESCRIPTION = ("rejected by the server; its error code was lost with the answer to the "
                    "request that created the batch")
DATE_MARGIN = 60.0  # seconds before the request: the Date header's second and clock drift


class StoppedReconciling(EngineError):
    """The run stopped while a lost answer was being reconciled; a resume looks again."""


@dataclass
class Run:
    """The mutable state of one send: one object, owned by the run's task group."""

    settings: Settings
    client: ApiClient
    sender: str
    text: str | None
    chunker: Chunker
    emit: Emit
    on_ambiguous: str = "reconcile"
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    aggregator: Aggregator = field(default_factory=Aggregator)
    records: dict[int, ChunkRecord] = field(default_factory=dict)
    owned: set[str] = field(default_factory=set)
    on_read: ReadProgress = _no_progress
    share_read: Callable[[], float | None] = lambda: None
    produced: int = 0
    journal: Journal | None = None
    # Opens the journal when the first chunk is about to be sent, so a run that ends before
    # (refused login, --strict, a stop) leaves nothing that blocks the same command.
    open_journal: Callable[[], Journal] | None = None
    _held: list[dict[str, Any]] = field(default_factory=list)
    stopping: anyio.Event = field(default_factory=anyio.Event)
    submitted: anyio.Event = field(default_factory=anyio.Event)
    clock: Callable[[], float] = time.monotonic
    # Reconciliations run here, beside the workers; set by the run for its lifetime.
    pending: TaskGroup | None = None
    parked: anyio.Semaphore = field(default_factory=lambda: anyio.Semaphore(2))
    slots: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(4))
    # Gives a chunk of a file again from the input (None: the input cannot be read twice).
    rebuild: Callable[[int], Awaitable[Chunk]] | None = None
    origins: dict[int, tuple[int | None, int | None]] = field(default_factory=dict)
    adopted_chunks: dict[int, Chunk] = field(default_factory=dict)
    resume_since: float | None = None  # server clock: where a resumed run's history begins
    _next_number: int = 0

    def record_for(self, chunk: Chunk) -> ChunkRecord:
        """The chunk's record, journaled (range and input offset) before anything is sent."""
        record = ChunkRecord(chunk.number, chunk.first_position, chunk.last_position,
                             chunk.count, chunk.size)
        self.records[chunk.number] = record
        self._next_number = max(self._next_number, chunk.number)
        line = chunk.index.locate(1)[1] if chunk.count else None
        self.origins[chunk.number] = (chunk.start_offset, line)
        self.log({"type": "chunk", "chunk": chunk.number, "first": record.first,
                  "last": record.last, "count": record.count, "bytes": record.bytes,
                  "offset": chunk.start_offset, "line": line})
        return record

    def log(self, entry: dict[str, Any]) -> None:
        if self.journal is None and self.open_journal is not None:
            if entry["type"] != "chunk":
                self._held.append(entry)
                return
            self.keep_journal()
        if self.journal is not None:
            self.journal.write(entry)

    def keep_journal(self) -> None:
        """Write the journal held back so far. Called before the first chunk, and when a run
        ends without one (every record rejected locally), so `a2p outcomes` still has it."""
        if self.journal is None and self.open_journal is not None:
            self.journal, self.open_journal = self.open_journal(), None
            for held in self._held:
                self.journal.write(held)
            self._held.clear()

    def log_state(self, record: ChunkRecord, **extra: Any) -> None:
        """The record's new state, written (and fsync'd) before the run goes on."""
        if self.journal is not None:
            fields = record.as_json()
            del fields["chunk"]
            self.journal.write({"type": "state", "chunk": record.number, **fields, **extra})

    def set_next_number(self, number: int) -> None:
        self._next_number = number

    def new_number(self) -> int:
        self._next_number += 1
        return self._next_number


async def produce(run: Run, chunks: Iterator[Chunk] | AsyncIterator[Chunk],
                  out: anyio.abc.ObjectSendStream[Chunk],
                  local: list[Rejection]) -> None:
    """Feed chunks to the workers; a zero-buffer stream means at most concurrency + 1 bodies
    exist. Sync sources are read in a worker thread so uploads keep flowing meanwhile."""
    async with out:
        while not run.stopping.is_set():
            if isinstance(chunks, Iterator):
                chunk = await anyio.to_thread.run_sync(next, chunks, None)
            else:
                chunk = await anext(chunks, None)
            await flush_local(run, local)
            if chunk is None:
                return
            run.produced += chunk.count
            run.on_read(run.produced + run.aggregator.rejected_local, run.share_read())
            await out.send(chunk)


async def recover(run: Run, caught: Chunk | dict[str, Any],
                  on_accepted: Callable[[ChunkRecord], None]) -> None:
    """A chunk the journal shows in flight at the stop: it may or may not have been created,
    so it goes through the same reconciliation as a lost answer."""
    if isinstance(caught, dict):
        record = run.records[caught["chunk"]]
        record.state = lifecycle.AMBIGUOUS
        record.note = "in flight when the run stopped, and the input cannot be read again " \
                      "to reconcile it (not a file)"
        record.move(lifecycle.UNKNOWN)
        run.log_state(record)
        return
    record = run.records[caught.number]
    record.state = lifecycle.SUBMITTING
    record.error = {"errorCode": "NO-ANSWER", "message": "in flight when the run stopped"}
    sent = server_time(record.submitted_at, run.client.server_now() - time.time())
    if not await settle_ambiguous(run, caught, record, on_accepted, since=run.resume_since,
                                  created_after=sent):
        async with run.slots:
            await submit(run, caught, record, on_accepted)


async def flush_local(run: Run, local: list[Rejection]) -> None:
    """Report local rejections the reader collected since the last chunk."""
    taken, local[:] = list(local), []
    if taken:
        run.log({"type": "local", "rejected": [r.as_json() for r in taken]})
    for rejection in taken:
        run.aggregator.add_local(rejection)
        await run.emit({"event": "rejected", **rejection.as_json()})


async def work(run: Run, chunks: ObjectReceiveStream[Chunk],
               on_accepted: Callable[[ChunkRecord], None]) -> None:
    async with chunks:
        async for chunk in chunks:
            if run.stopping.is_set():  # after a stop, chunks are drained, never recorded
                continue
            async with run.slots:
                await submit(run, chunk, run.record_for(chunk), on_accepted)


async def submit(run: Run, chunk: Chunk, record: ChunkRecord,
                 on_accepted: Callable[[ChunkRecord], None]) -> None:
    """Send one chunk until it is accepted, failed, split or left unknown."""
    retry = run.settings.retry
    record.move(lifecycle.SUBMITTING)
    while True:
        if run.stopping.is_set():
            hold(run, record)
            return
        record.attempts += 1
        record.submitted_at = now_iso()
        run.log_state(record)  # "submitting" is on disk before the request goes out
        sent_at = run.client.server_now()  # a lost batch was created after this
        try:
            reply = await run.client.post_batch(chunk.body)
            verdict = classify(reply.status)
        except StoppedError:
            record.attempts -= 1  # it never went out
            hold(run, record)
            return
        except NotSentError as exc:
            reply, verdict = Reply(0), Verdict.RETRY
            record.error = {"errorCode": "NOT-SENT", "message": str(exc)}
        except AmbiguousSendError as exc:
            reply, verdict = Reply(0), Verdict.AMBIGUOUS
            record.error = {"errorCode": "NO-ANSWER", "message": str(exc)}
        except BadBodyError as exc:  # an answer too large to read: the status is all we know
            reply, verdict = Reply(exc.status), classify(exc.status)
            record.error = {"errorCode": "BAD-ANSWER", "message": str(exc)}
            if verdict is Verdict.OK:
                await leave_unknown(run, record)
                return
        if verdict is Verdict.OK:
            await accept(run, chunk, record, reply, on_accepted)
            return
        if verdict is Verdict.SPLIT:
            await split(run, chunk, record, on_accepted)
            return
        if verdict is Verdict.FAIL or (verdict is Verdict.REFRESH):
            await fail(run, record, reply)
            return
        if verdict is Verdict.AMBIGUOUS and run.pending is not None and \
                run.on_ambiguous == "reconcile":
            await park(run, chunk, record, on_accepted, sent_at)
            return
        if verdict is Verdict.AMBIGUOUS:
            if await settle_ambiguous(run, chunk, record, on_accepted, since=sent_at):
                return
            if record.attempts >= retry.max_attempts:  # proved absent each time: give up
                await fail(run, record, reply, gave_up=True)
                return
            continue  # proved not created: safe to send again
        if record.attempts >= retry.max_attempts:
            await fail(run, record, reply, gave_up=True)
            return
        record.move(lifecycle.SUBMITTING)
        if reply.status != 429:  # a 429 already holds the budget back for the penalty
            pause = backoff(record.attempts - 1, retry.backoff_initial, retry.backoff_max,
                            run.rng)
            await unless_stopped(run.stopping, run.sleep, pause)  # a stop cuts it short


def hold(run: Run, record: ChunkRecord) -> None:
    """The run stopped before this chunk's request went out: planned again, so --resume
    sends it without having to reconcile anything."""
    record.move(lifecycle.PLANNED)
    record.note = "not sent: the run stopped before its request went out"
    run.log_state(record)


async def accept(run: Run, chunk: Chunk, record: ChunkRecord, reply: Reply,
                 on_accepted: Callable[[ChunkRecord], None]) -> None:
    try:
        body = reply.json()
        batch_id, size = body["id"], body["batchSize"]
        if not isinstance(batch_id, str) or type(size) is not int:
            raise BadAnswerError(f"batch answer has id {batch_id!r} and batchSize {size!r}")
        rejected = body.get("rejected") or []
        translated = run.aggregator.add_chunk(chunk.index, batch_id, rejected)
    except (BadBodyError, BadAnswerError, KeyError, TypeError) as exc:
        record.error = {"errorCode": "BAD-ANSWER", "message": f"{exc}"}
        await leave_unknown(run, record)
        return
    record.batch_id, record.batch_size = batch_id, size
    record.created = body.get("creationTime")
    run.client.note_creation(record.created)
    record.error = None
    record.move(lifecycle.ACCEPTED)
    run.log_state(record, rejected=[r.as_json() for r in translated])
    run.owned.add(batch_id)
    on_accepted(record)
    await run.emit({"event": "chunk_submitted", "chunk": record.number, "batchId": batch_id,
                    "firstIndex": record.first, "lastIndex": record.last,
                    "messages": record.count, "batchSize": size, "bytes": record.bytes,
                    "attempts": record.attempts, "rejected": len(translated)})
    for rejection in translated:
        await run.emit({"event": "rejected", **rejection.as_json()})


async def leave_unknown(run: Run, record: ChunkRecord) -> None:
    """Created (2xx) but unreadable: it may hold SMS now, so it is never resent."""
    if record.state != lifecycle.AMBIGUOUS:
        record.move(lifecycle.AMBIGUOUS)
    record.move(lifecycle.UNKNOWN)
    record.note = "the server accepted the request but its answer could not be read; check " \
                  "this range on RingCentral before sending it again"
    run.log_state(record)
    await run.emit({"event": "chunk_failed", "chunk": record.number, "status": "unknown",
                    "firstIndex": record.first, "lastIndex": record.last,
                    "error": record.error})


async def fail(run: Run, record: ChunkRecord, reply: Reply, gave_up: bool = False) -> None:
    if reply.status:
        code, message = error_of(reply)
        record.error = {"status": reply.status, "errorCode": code, "message": message}
    if gave_up and record.error is not None:
        record.error["message"] = (f"gave up after {record.attempts} attempts: "
                                   f"{record.error.get('message', '')}")
    record.move(lifecycle.FAILED)
    run.log_state(record)
    await run.emit({"event": "chunk_failed", "chunk": record.number, "status": "failed",
                    "firstIndex": record.first, "lastIndex": record.last,
                    "error": record.error})


async def split(run: Run, chunk: Chunk, record: ChunkRecord,
                on_accepted: Callable[[ChunkRecord], None]) -> None:
    """413: send the chunk as two halves, and lower the byte limit for the rest of the run."""
    if chunk.count < 2:
        await fail(run, record, Reply(413, {}, b'{"errorCode":"AGW-413","message":"one '
                                                 b'message alone is too large"}'))
        return
    run.chunker.max_bytes = max(1024, min(run.chunker.max_bytes, len(chunk.body) // 2))
    record.move(lifecycle.SPLIT)
    record.note = f"413: split in two; byte limit lowered to {run.chunker.max_bytes}"
    run.log_state(record, maxBatchBytes=run.chunker.max_bytes)
    for half in halves(chunk, run.new_number(), run.new_number()):
        await submit(run, half, run.record_for(half), on_accepted)


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


async def park(run: Run, chunk: Chunk, record: ChunkRecord,
               on_accepted: Callable[[ChunkRecord], None], sent_at: float) -> None:
    """Reconcile a lost answer beside the workers, not in a sending slot. A chunk the input
    can give again drops its body meanwhile; any other keeps it under a small limiter, and a
    worker waiting for that limiter stops the reading."""
    record.move(lifecycle.AMBIGUOUS)
    expected = expected_of(run, chunk)
    light = run.rebuild is not None
    if light:
        chunk = Chunk(chunk.number, b"", chunk.size, chunk.index, chunk.start_offset)
    else:
        await run.parked.acquire()
    assert run.pending is not None
    run.pending.start_soon(_parked, run, chunk, record, on_accepted, expected, light, sent_at)


async def _parked(run: Run, chunk: Chunk, record: ChunkRecord,
                  on_accepted: Callable[[ChunkRecord], None], expected: Expected,
                  light: bool, sent_at: float) -> None:
    try:
        if await settle_ambiguous(run, chunk, record, on_accepted, expected, sent_at):
            return
        if record.attempts >= run.settings.retry.max_attempts:
            await fail(run, record, Reply(0), gave_up=True)
            return
        if light and run.rebuild is not None:
            chunk = await run.rebuild(chunk.number)
            check_rebuilt(chunk.number, expected_of(run, chunk), expected)
    finally:
        if not light:
            run.parked.release()
    async with run.slots:
        await submit(run, chunk, record, on_accepted)


def expected_of(run: Run, chunk: Chunk) -> Expected:
    body = orjson.loads(chunk.body)
    text = body.get("text")
    return Expected.of(run.sender, ((m["to"][0], m.get("text", text))
                                    for m in body["messages"]))


async def settle_ambiguous(run: Run, chunk: Chunk, record: ChunkRecord,
                           on_accepted: Callable[[ChunkRecord], None],
                           expected: Expected | None = None,
                           since: float | None = None,
                           created_after: float | None = None) -> bool:
    """True when the chunk is settled (adopted or unknown); False when it may be resent."""
    if record.state != lifecycle.AMBIGUOUS:
        record.move(lifecycle.AMBIGUOUS)
    if run.on_ambiguous == "resend":
        record.move(lifecycle.SUBMITTING)
        return False
    if run.on_ambiguous == "reconcile":
        try:
            step = await find_batch(run, expected or expected_of(run, chunk), since,
                                    created_after)
        except EngineError as exc:
            record.note = f"could not reconcile: {exc}"
        else:
            if isinstance(step, Adopt):
                await adopt(run, chunk, record, step.batch, on_accepted)
                return True
            if isinstance(step, Absent):
                record.move(lifecycle.SUBMITTING)
                return False
            record.note = f"could not reconcile: {step.reason}; resume the run later to " \
                          "look again, or check this range on RingCentral"
    record.move(lifecycle.UNKNOWN)
    run.log_state(record)
    await run.emit({"event": "chunk_failed", "chunk": record.number, "status": "unknown",
                    "firstIndex": record.first, "lastIndex": record.last,
                    "error": record.error, "note": record.note})
    return True


async def adopt(run: Run, chunk: Chunk, record: ChunkRecord, batch: dict[str, Any],
                on_accepted: Callable[[ChunkRecord], None]) -> None:
    body = orjson.dumps({**batch, "rejected": []})
    record.note = ADOPTED_NOTE
    record.adopted = True
    if run.rebuild is None:
        run.adopted_chunks[record.number] = chunk  # to recover its rejections later
    await accept(run, chunk, record, Reply(201, {}, body), on_accepted)


async def find_batch(run: Run, expected: Expected, since: float | None = None,
                     created_after: float | None = None) -> Adopt | Absent | Undecided:
    """The thin loop around the reconciliation decision: it only reads and sleeps.

    ``dateFrom`` is a minute before ``since``, the server's clock (its Date header) when the
    request went out, or where a resumed run's history begins; now when not given. Only a
    batch created after ``created_after`` (default ``since``) can be the request's."""
    retry = run.settings.retry
    sent = run.client.server_now() if since is None else since
    start = sent - DATE_MARGIN
    search = Reconciliation(expected, run.owned, started=run.clock(),
                            created_after=sent if created_after is None else created_after,
                            window=retry.reconcile_window,
                            date_from=datetime.fromtimestamp(start, UTC).isoformat(),
                            interval=max(retry.backoff_initial, 0.01),
                            max_interval=max(retry.backoff_max, 0.01))
    while True:
        step = search.next(run.clock())
        if isinstance(step, Wait):
            if not await unless_stopped(run.stopping, run.sleep, step.seconds):
                raise StoppedReconciling("the run was stopped while the batch was being looked for "
                                   "on the server")
        elif isinstance(step, ReadListing):
            search.listing(*page_of(await run.client.get_json(
                "/batches", {"perPage": 1000, **step.params})))
        elif isinstance(step, ReadMessages):
            records, _ = page_of(await run.client.get_json("/messages", step.params))
            search.messages(step.batch_id, records)
        elif isinstance(step, Adopt) and step.batch["id"] in run.owned:
            search.disown(step.batch["id"])  # another chunk's lost request made it
        else:
            if isinstance(step, Adopt):
                run.owned.add(step.batch["id"])
            return step


async def recover_rejections(run: Run, record: ChunkRecord) -> None:
    """An adopted batch has completed: every recipient of the chunk the server holds no
    message for was rejected, and the code it gave was lost with the answer."""
    if not record.adopted or record.note != ADOPTED_NOTE or record.batch_id is None:
        return
    held: Counter[str] = Counter()
    params: dict[str, Any] = {"batchId": record.batch_id, "perPage": 1000}
    walk = PageWalk(f"GET .../messages of batch {record.batch_id}")
    while True:
        records, token = walk.page(page_of(await run.client.get_json("/messages", params)))
        held.update(m["to"][0] for m in records if isinstance(m.get("to"), list) and m["to"])
        if not token:
            break
        params["pageToken"] = token
    chunk = run.adopted_chunks.pop(record.number, None)
    if chunk is None and run.rebuild is not None:
        chunk = await run.rebuild(record.number)
    if chunk is None:
        record.note = ADOPTED_NOTE + "; the input cannot be read again, so its server " \
                                     "rejections are not known"
        return
    body = orjson.loads(chunk.body)
    missing: list[Rejection] = []
    for k, message in enumerate(body["messages"], start=1):
        to = message["to"][0]
        if held[to]:
            held[to] -= 1
            continue
        position, line = chunk.index.locate(k)
        missing.append(Rejection(position, line, to, LOST_CODE, LOST_DESCRIPTION,
                                 record.batch_id, SERVER))
    for rejection in missing:
        run.aggregator.add_known(rejection)
    run.aggregator.sent -= len(missing)
    record.note = f"answer lost; adopted the batch found on the server; {len(missing)} " \
                  "server rejections recovered from its message store"
    run.log_state(record, rejected=[r.as_json() for r in missing])
    for rejection in missing:
        await run.emit({"event": "rejected", **rejection.as_json()})
