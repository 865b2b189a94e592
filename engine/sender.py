"""Submitting chunks: concurrent workers with back-pressure, every failure classified before
anything is retried, and never a blind resend of a request that may have been processed."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
import orjson
from anyio.abc import ObjectReceiveStream

from engine import lifecycle
from engine.chunker import Chunk, Chunker
from engine.chunkindex import PositionIndex
from engine.client import ApiClient, error_of
from engine.config import Settings
from engine.errors import AmbiguousSendError, EngineError, StoppedError
from engine.journal import Journal
from engine.policy import Verdict, backoff, classify
from engine.ratebudget import unless_stopped
from engine.rejections import Aggregator, BadAnswerError, Rejection
from engine.report import ChunkRecord, now_iso
from engine.transport import BadBodyError, NotSentError, Reply, page_of

Emit = Callable[[dict[str, Any]], Awaitable[None]]
# (records read so far, share of the input consumed when it is known)
ReadProgress = Callable[[int, float | None], None]


def _no_progress(records: int, share: float | None) -> None:
    return None
ON_AMBIGUOUS = ("reconcile", "resend", "fail")
ADOPTED_NOTE = ("answer lost; adopted the batch found on the server: the server's per-message "
                "rejections for it are not known")


class Undecided(EngineError):
    """Reconciliation could not tell whether a lost request created a batch."""


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
    _reconcile_lock: anyio.Lock = field(default_factory=anyio.Lock)
    _next_number: int = 0

    def record_for(self, chunk: Chunk) -> ChunkRecord:
        """The chunk's record, journaled (range and input offset) before anything is sent."""
        record = ChunkRecord(chunk.number, chunk.first_position, chunk.last_position,
                             chunk.count, chunk.size)
        self.records[chunk.number] = record
        self._next_number = max(self._next_number, chunk.number)
        line = chunk.index.locate(1)[1] if chunk.count else None
        self.log({"type": "chunk", "chunk": chunk.number, "first": record.first,
                  "last": record.last, "count": record.count, "bytes": record.bytes,
                  "offset": chunk.start_offset, "line": line})
        return record

    def log(self, entry: dict[str, Any]) -> None:
        if self.journal is None and self.open_journal is not None:
            if entry["type"] != "chunk":
                self._held.append(entry)
                return
            self.journal, self.open_journal = self.open_journal(), None
            for held in self._held:
                self.journal.write(held)
            self._held.clear()
        if self.journal is not None:
            self.journal.write(entry)

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
    if not await settle_ambiguous(run, caught, record, on_accepted):
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
            if not run.stopping.is_set():  # after a stop, chunks are drained, never recorded
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
        if verdict is Verdict.AMBIGUOUS:
            if await settle_ambiguous(run, chunk, record, on_accepted):
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


async def settle_ambiguous(run: Run, chunk: Chunk, record: ChunkRecord,
                           on_accepted: Callable[[ChunkRecord], None]) -> bool:
    """True when the chunk is settled (adopted or unknown); False when it may be resent."""
    record.move(lifecycle.AMBIGUOUS)
    if run.on_ambiguous == "resend":
        record.move(lifecycle.SUBMITTING)
        return False
    if run.on_ambiguous == "reconcile":
        try:
            async with run._reconcile_lock:
                batch = await find_batch(run, chunk)
        except (Undecided, EngineError) as exc:
            record.note = f"could not reconcile: {exc}"
        else:
            if batch is None:
                record.move(lifecycle.SUBMITTING)
                return False
            await adopt(run, chunk, record, batch, on_accepted)
            return True
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
    await accept(run, chunk, record, Reply(201, {}, body), on_accepted)


async def find_batch(run: Run, chunk: Chunk) -> dict[str, Any] | None:
    """The batch a lost request created, or None when the listing proves there is none.

    Lists the sender's batches since just before the request and adopts one that no other
    chunk owns, is no larger than the chunk, and whose messages are the chunk's recipients.
    """
    await run.sleep(run.settings.retry.backoff_initial)  # let the listing catch up
    since = (run.client.server_date or datetime.now(UTC).timestamp()) - 120.0
    params = {"from": run.sender, "dateFrom": datetime.fromtimestamp(since, UTC).isoformat()}
    body = orjson.loads(chunk.body)
    expected = {m["to"][0]: m.get("text", body.get("text")) for m in body["messages"]}
    async for batch in run.client.batches(params):
        if await _is_ours(run, batch, chunk.count, expected):
            return dict(batch)
    return None


async def _is_ours(run: Run, batch: Any, count: int, expected: dict[str, str | None]
                   ) -> bool:
    """Same recipients with the same texts: another campaign from this sender to the same
    list must not be mistaken for ours."""
    if not isinstance(batch, dict) or batch.get("id") in run.owned:
        return False
    size = batch.get("batchSize")
    if type(size) is not int or not 0 < size <= count:
        return False
    params = {"batchId": batch["id"], "perPage": min(1000, size), "view": "Detailed"}
    messages, _ = page_of(await run.client.get_json("/messages", params))
    return bool(messages) and all(_matches(m, expected) for m in messages)


def _matches(message: dict[str, Any], expected: dict[str, str | None]) -> bool:
    to = message.get("to")
    if not isinstance(to, list) or not to or to[0] not in expected:
        return False
    text = message.get("text")
    return text is None or text == expected[to[0]]
