"""The server rejections of a batch whose answer was lost (adopted) or could not be checked:
once the batch completes, its message store is read back, and every recipient of the chunk
the store does not hold was rejected, its code lost with the answer (engine/core/storecheck.py
decides when the store is whole; this only reads and sleeps).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from engine.batching.bodyscan import BodyRecipients, pieces_of, tos_at
from engine.batching.chunker import Chunk, StoredBodyError
from engine.core.lifecycle import Reason
from engine.core.paging import PageWalk
from engine.core.policy import LOST_CODE
from engine.core.rejections import SERVER, Rejection
from engine.core.storecheck import LOST_DESCRIPTION, Pending, ReadStore, Settled, StoreSettle
from engine.core.storecheck import Wait as StoreWait
from engine.errors import EngineError
from engine.rc.client import ApiClient
from engine.rc.transport import page_of
from engine.run.options import RunSettings
from engine.run.recorder import Recorder
from engine.run.report import ChunkRecord

Rebuild = Callable[[int], Awaitable[Chunk]]

ADOPTED_NOTE = ("answer lost; adopted the batch found on the server: its server rejections "
                "are recovered from its message store once it completes")
UNCHECKED_NOTE = ("created, but the rejections its answer named could not be checked against "
                  "the request body, which could not be read back")
UNCHECKED_DESCRIPTION = ("rejected by the server; the error code its answer gave was not kept, "
                         "as the request body could not be read back to check it")


def needs_recovery(record: ChunkRecord) -> bool:
    """An adopted batch (or one whose answer's rejections could not be checked) whose
    server rejections are not read back yet."""
    return record.reason in (Reason.ADOPTED, Reason.PENDING, Reason.UNCHECKED) and \
        record.batch_id is not None


class StoreRecovery:
    """One run's reading back of lost rejections; ``adopted`` holds the chunks of batches
    adopted this run (their bodies, to name the missing recipients), until they complete."""

    def __init__(self, run: RunSettings, client: ApiClient, recorder: Recorder, *,
                 rebuild: Rebuild | None, sleep: Callable[[float], Awaitable[None]],
                 clock: Callable[[], float]) -> None:
        self._run = run
        self._client = client
        self._recorder = recorder
        self._rebuild = rebuild
        self._sleep = sleep
        self._clock = clock
        self.adopted: dict[int, Chunk] = {}

    async def recover_rejections(self, record: ChunkRecord) -> None:
        """An adopted batch has completed: every recipient of the chunk its message store
        does not hold was rejected, and the code it gave was lost with the answer; but only
        once the store lists the whole batch (engine/core/storecheck.py). Until then the
        store is read again within the Light budget; when ``store_window`` passes first, the
        absent recipients are left pending for a resume or ``a2p outcomes`` to settle."""
        if not needs_recovery(record):
            return
        assert record.batch_id is not None
        chunk = self.adopted.pop(record.number, None)
        why = "the input cannot be read again here"
        if chunk is None and self._rebuild is not None:
            try:
                chunk = await self._rebuild(record.number)
            except EngineError as exc:
                why = f"the input could not be read again ({exc})"
        if chunk is None:
            self._unnamed(record, why)
            return
        try:  # its recipients read from its body on each look, never held
            step = await self._settle_store(record.batch_id,
                                            BodyRecipients(chunk.body, chunk.count),
                                            record.batch_size)
            missing = [] if isinstance(step, Pending) else \
                lost_rejections(chunk, step.missing, record.batch_id,
                                LOST_DESCRIPTION if record.adopted else UNCHECKED_DESCRIPTION)
        except StoredBodyError as exc:
            self._unnamed(record, body_lost(exc))
            return
        aggregator = self._recorder.aggregator
        was_pending = record.pending or 0
        what = _what(record)
        if isinstance(step, Pending):
            aggregator.recovered([], len(step.missing), was_pending)
            record.reason, record.pending = Reason.PENDING, len(step.missing)
            record.note = (f"{what}; {step.reason}: {len(step.missing):,} recipients are "
                           "pending (they may have been texted). Resume the run or run "
                           "'a2p outcomes' later to settle them.")
            self._recorder.save(record)
            return
        aggregator.recovered(missing, 0, was_pending)
        record.reason, record.pending = Reason.RECOVERED, None
        record.note = f"{what}; {len(missing)} server rejections recovered from its message " \
                      "store"
        self._recorder.save(record, rejected=[r.as_json() for r in missing])
        await self._recorder.rejected(missing)

    def _unnamed(self, record: ChunkRecord, why: str) -> None:
        """Without the chunk nobody can be named: the batch's ``batchSize`` accepted messages
        are sent, and the rest, rejected by the server or not, stay pending (``a2p outcomes``
        with the input names them)."""
        unknown = max(0, record.count - (record.batch_size or 0))
        self._recorder.aggregator.recovered([], unknown, record.pending or 0)
        if not unknown:  # the batch holds every recipient: nobody was rejected
            record.reason, record.pending = Reason.RECOVERED, None
            record.note = f"{ADOPTED_NOTE}; it holds every recipient of the chunk"
        else:
            record.reason, record.pending = Reason.PENDING, unknown
            record.note = (f"{_what(record)}; {why}, so which {unknown:,} of its recipients "
                           "the server rejected is not "
                           "known: they are pending. 'a2p outcomes' with the input names them.")
        self._recorder.save(record)

    async def _settle_store(self, batch_id: str, tos: Sequence[str], size: int | None
                            ) -> Settled | Pending:
        """The thin loop around the store decision: it only reads and sleeps."""
        retry = self._run.settings.retry
        settle = StoreSettle(tos, len(tos) if size is None else size, started=self._clock(),
                             window=retry.store_window,
                             interval=max(retry.backoff_initial, 0.01),
                             max_interval=max(retry.backoff_max, 0.01))
        while True:
            step = settle.next(self._clock())
            if isinstance(step, StoreWait):
                await self._sleep(step.seconds)  # a stop cancels the tracker, and this with it
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
            records, token = walk.page(page_of(await self._client.get_json("/messages",
                                                                            params)))
            listed += len(records)
            held.update(m["to"][0] for m in records
                        if isinstance(m, dict) and isinstance(m.get("to"), list) and m["to"]
                        and m.get("batchId", batch_id) == batch_id)
            if not token:
                return held, listed
            params["pageToken"] = token


def _what(record: ChunkRecord) -> str:
    """How the batch became the chunk's, as its note starts."""
    return "answer lost; adopted the batch found on the server" if record.adopted else \
        UNCHECKED_NOTE


def lost_rejections(chunk: Chunk, missing: tuple[int, ...], batch_id: str,
                    description: str = LOST_DESCRIPTION) -> list[Rejection]:
    """The recipients of ``chunk`` at ``missing`` (1-based indexes into its messages), as
    server rejections whose code was lost with the answer (or not kept: ``description``)."""
    tos = tos_at(pieces_of(chunk.body), missing)
    out: list[Rejection] = []
    for k in missing:
        position, line = chunk.index.locate(k)
        out.append(Rejection(position, line, tos[k], LOST_CODE, description, batch_id, SERVER))
    return out


def body_lost(exc: StoredBodyError) -> str:
    """Why a body that went out cannot be read back, in words true after it went out (the
    error's own speak of a request about to be made)."""
    cause = exc.__cause__
    if isinstance(cause, OSError):
        return f"its request body could not be read back ({cause})"
    return "its request body changed on disk since it was written"

