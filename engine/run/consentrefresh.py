"""RingCentral's opt-outs kept no older than ``--max-consent-age`` while a run sends: a
campaign runs for hours, and a recipient who replies STOP to another number of the account
meanwhile must not be texted under ``--suppress-scope account``.

Before a chunk is POSTed for the first time, the opt-outs read more than the max age ago
are read again (engine/run/consent.py ``read_consents``: the export with If-None-Match, one
Light request and a 304 when nothing changed). One worker reads, the others wait for its
read. A read that changed the set is swapped into the gate (the reader thread applies it to
the blocks it reads next), and from then on every chunk is screened with the current set
before its first POST: a chunk the reader cut before the swap may hold a new opt-out. A
chunk's retries are not screened again: once POSTed, whether its batch exists is the
lost-answer rules' to decide (a 413's halves are the chunk screened, cut in two). A read
that fails stops the run as a stop does: nothing more is POSTed, never with a set older
than the max age.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import replace

import anyio

from engine.batching.chunker import BodySinks, Chunk
from engine.batching.halves import part
from engine.core.rejections import Rejection
from engine.errors import ConsentError, StoppedError
from engine.run.consent import Consents
from engine.run.events import RunWarning
from engine.run.gate import Gate
from engine.run.recorder import Recorder
from engine.run.report import stamp

Read = Callable[[], Awaitable[Consents]]
Screen = Callable[[Chunk], list[tuple[int, Rejection]]]  # Gate.screen


class ConsentRefresh:
    """The opt-outs a run applies, read again when older than ``max_age`` seconds (0: before
    every chunk's first POST). ``latest``: the last read (the report's ``consent``);
    ``failure``: why the run stopped, when a read failed."""

    def __init__(self, consents: Consents, read: Read, gate: Gate, recorder: Recorder, *,
                 max_age: float, wall: Callable[[], float], stopping: anyio.Event,
                 sinks: BodySinks | None = None,
                 journal: str | os.PathLike[str] | None = None) -> None:
        """``read``: the opt-outs read again (``read_consents``, its cache asked only with
        If-None-Match); ``sinks``: where a screened chunk's new body goes (the chunker's);
        ``journal``: the run's, which a resume finishes (None: it has none)."""
        self.latest = consents
        self.failure: str | None = None
        self._read = read
        self._gate = gate
        self._recorder = recorder
        self._max_age = max_age
        self._wall = wall
        self._stopping = stopping
        self._sinks = sinks
        self._journal = journal
        self._lock = anyio.Lock()
        self._started = 0  # reads begun in this run after the first
        self._screening = False  # a read changed the set: chunks cut before may hold one
        # with max age 0, the read before the first POST serves the first chunk alone
        self._spare = max_age == 0

    async def first_post(self, chunk: Chunk) -> Chunk | None:
        """The chunk to POST for the first time, the opt-outs read again if they are too
        old: without the recipients they now suppress (each an LCL-OPTED-OUT local rejection,
        journaled before the chunk is), the rest a chunk of the same number, never journaled
        before. None: nothing of it is sent (all suppressed, or the run stopped)."""
        if not await self.current():
            return None
        if not self._screening:
            return chunk
        kept, _ = await screened(chunk, self._gate.screen, self._recorder,
                                 lambda: chunk.number, self._sinks)
        return kept

    async def current(self) -> bool:
        """Read the opt-outs again when they are older than the max age (or, waiting for
        another worker's read, when that read began before this was asked). False: the run
        is stopping (a read failed, or a stop came), and nothing may be POSTed."""
        begun = self._started
        if self._spare:
            self._spare = False
            return not self._stopping.is_set()
        if self._fresh(begun):
            return not self._stopping.is_set()
        async with self._lock:
            if self._stopping.is_set():
                return False
            if self._fresh(begun):
                return True
            self._started += 1
            await self._read_again()
        return not self._stopping.is_set()

    def _fresh(self, begun: int) -> bool:
        """A read began since ``begun`` was taken (it holds for whoever waited on it), or
        the last is within the max age."""
        if self._started > begun:
            return True
        return self._max_age > 0 and self._wall() - self.latest.read_at <= self._max_age

    async def _read_again(self) -> None:
        last = self.latest
        try:
            consents = await self._read()
        except StoppedError:  # the user's stop, heard while reading: no failure to tell
            self._stopping.set()
            return
        except (ConsentError, OSError) as exc:  # OSError: the cache could not be written
            self.failure = self._failed(exc)
            self._stopping.set()  # before anything else can POST
            await self._recorder.emit(RunWarning("consent", self.failure))
            return
        consents.reads = last.reads + 1
        if consents.etag is not None and consents.etag == last.etag:
            consents.set = last.set  # a 304: the same records, the gate's set kept
        else:
            self._gate.consents = consents.set  # the reader's next block sees it
            self._screening = True
        self.latest = consents
        await self._recorder.emit(consents.event())

    def _failed(self, exc: Exception) -> str:
        cause = str(exc.__cause__ or exc).rstrip(".")
        then = stamp(self.latest.read_at)
        finish = (f"'a2p send --resume {os.fspath(self._journal)}' sends the rest once they "
                  "can be read (it reads them first)" if self._journal is not None else
                  "the run had no journal: send the recipients it did not text (the report "
                  "lists what it sent) as a new run once they can be read")
        return (f"the opt-outs (RingCentral's SMS consent records), last read at {then}, "
                f"could not be read again before the next batch: {cause}. The run stopped "
                f"sending: no batch is POSTed with opt-outs older than --max-consent-age "
                f"({self._max_age / 60:g} min). {finish}.")



async def screened(chunk: Chunk, screen: Screen | None, recorder: Recorder,
                   number: Callable[[], int], sinks: BodySinks | None,
                   before: Callable[[int], None] | None = None
                   ) -> tuple[Chunk | None, int]:
    """``chunk`` without the recipients ``screen`` finds opted out, and how many it took
    out: they become LCL-OPTED-OUT local rejections (journaled), the rest a chunk numbered
    ``number()``, its body built first (a full disk then journals nothing). The chunk
    itself when none is; None when every one is. ``before``: told how many, once the body
    is built and before the rejections are journaled (a caught chunk's split, which a
    resume must read first)."""
    gone = screen(chunk) if screen is not None else []
    if not gone:
        return chunk, 0
    out = {k for k, _ in gone}
    keep = [k for k in range(chunk.count) if k not in out]
    kept = part(chunk, keep, number(), sinks) if keep else None
    if kept is not None and keep[0] == 0:  # its first record is the chunk's: so is its offset
        kept = replace(kept, start_offset=chunk.start_offset)
    if before is not None:
        before(len(gone))
    await recorder.local([rejection for _, rejection in gone])
    return kept, len(gone)
