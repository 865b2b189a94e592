"""Reading every recipient's fate back: the message store of each batch of a run, matched to
the run's input rows through its journal. The pure half is engine.results.rows.

Cost: ``GET .../messages?batchId=`` pages of up to 1000 records, ceil(messages / 1000) Light
requests (50 a minute on RingCentral: about 3.3 hours for 10 million), spent through the same
rate budget as a send. Memory: one chunk at most (see engine.results.rows on matching); the
input is re-read chunk by chunk from the offsets the journal recorded.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio

from engine.config.credentials import Credentials, pick_credentials
from engine.config.profiles import journal_profile
from engine.config.settings import Settings, check_journal_server, load_settings
from engine.core.rejections import Rejection
from engine.errors import JournalError, UsageError
from engine.rc.client import ApiClient
from engine.rc.transport import AiohttpTransport, Transport, page_of
from engine.reading import ReadOptions, StartAt, read_lines
from engine.reading.linesource import MAX_LINE_BYTES
from engine.results.backlog import Backlog
from engine.results.names import FILTERS, OutcomeFilter
from engine.results.rows import (
    SCHEDULE_COLUMNS,
    Matcher,
    Record,
    Row,
    Span,
    Stored,
    Totals,
    estimate,
    in_order,
    keep,
    pieces_of,
    row_of,
    spans_of,
    store_needed,
    wanted,
)
from engine.results.unsent import Fates
from engine.run.expiry import expiry_of, judged_at
from engine.run.inputs import input_identity, open_input
from engine.run.journal import JournalState, local_rejections, read_journal, server_rejections
from engine.run.journallock import JournalLock
from engine.run.roundreport import is_e164
from engine.run.suppresskept import reloaded

PER_PAGE = 1000  # perPage maximum of GET /a2p-sms/messages in the spec
Progress = Callable[[dict[str, Any]], None]


@dataclass
class Checkpoint:
    """Where an interrupted export goes on, and the totals of every row before it (and of
    the rows ``only`` kept: ``selected``): the start of ``span`` (an index into the export's
    ``pieces``: a chunk's range, or a part of it when it spans another chunk), or, with
    ``token``, the record at ``position`` (``line``, byte ``offset``) inside it, its message
    store read up to the page ``token`` names and nothing read ahead held."""

    span: int = 0
    totals: Totals = field(default_factory=Totals)
    position: int | None = None
    line: int | None = None
    offset: int | None = None
    token: str | None = None
    selected: Totals = field(default_factory=Totals)

    def as_json(self) -> dict[str, Any]:
        return {"span": self.span, "totals": self.totals.as_json(), "position": self.position,
                "line": self.line, "offset": self.offset, "token": self.token,
                "selected": self.selected.as_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Checkpoint:
        return cls(data["span"], Totals.from_json(data["totals"]), data.get("position"),
                   data.get("line"), data.get("offset"), data.get("token"),
                   Totals.from_json(data.get("selected") or {}))

    @classmethod
    def at(cls, span: int, totals: Totals, selected: Totals, position: int | None = None,
           line: int | None = None, offset: int | None = None, token: str | None = None
           ) -> Checkpoint:
        """A checkpoint holding copies of the running totals."""
        return cls(span, Totals.from_json(totals.as_json()), position, line, offset, token,
                   Totals.from_json(selected.as_json()))


@dataclass
class _Batch:
    """The message store of the batch being matched: pages read so far, the next one's token."""

    span: Span
    matcher: Matcher
    token: str | None = None
    done: bool = False
    skip: bool = False
    listed: int = 0  # records its store listed, read from the first page

    @property
    def complete(self) -> bool:
        """Every page read and as many records as the batch holds, all of it."""
        return self.done and self.token is None and self.matcher.foreign == 0 and \
            self.listed >= self.span.size


class Export:
    """One export of a run's outcomes. Use as ``async with``; ``rows()`` yields the rows.

    >>> async with Export("run.journal", only=["failed"]) as export:     # doctest: +SKIP
    ...     async for row in export.rows():
    ...         print(row.to, row.outcome, row.errorCode)
    """

    def __init__(self, journal: str | os.PathLike[str], *,
                 input: str | os.PathLike[str] | None = None, only: Sequence[OutcomeFilter] = (),
                 config: Settings | str | None = None, credentials: Credentials | None = None,
                 transport: Transport | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
                 on_progress: Progress | None = None,
                 wall: Callable[[], float] = time.time) -> None:
        """``clock`` paces the requests; ``wall`` (epoch seconds) is the instant a scheduled
        send's recipients not sent are judged at (deferred, daily-cap, expired)."""
        self.journal = Path(journal)
        try:
            self.only = wanted(only)
        except ValueError as exc:
            raise UsageError(f"--only {exc}: not an outcome. Use one of: "
                             f"{', '.join(FILTERS)}.") from None
        # One process per journal: a send still writing it would change what is read here.
        # Held until the export is left (``async with``); JournalBusyError at once otherwise.
        if not self.journal.is_file():
            read_journal(self.journal)  # says what is wrong with the path, before any lock
        self._lock = JournalLock(self.journal, "a2p outcomes", readonly=True)
        self._lock.acquire()
        try:
            self._open(input, config, credentials, transport, clock, sleep, on_progress, wall)
        except BaseException:
            self._lock.release()
            raise

    def _open(self, input: str | os.PathLike[str] | None, config: Settings | str | None,
              credentials: Credentials | None, transport: Transport | None,
              clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]],
              on_progress: Progress | None, wall: Callable[[], float]) -> None:
        self.state = read_journal(self.journal)
        # a scheduled send's: each recipient's zone, and the fate of those not sent yet
        # (judged no earlier than the run's journaled expiry: a clock behind the run's
        # would call its expired recipients deferred)
        self._fates = Fates(self.state.header, self.journal,
                            judged_at(datetime.fromtimestamp(wall(), UTC),
                                      expiry_of(self.state))) \
            if self.state.header.get("schedule") else None
        self.spans = spans_of(self.state.chunks.values())
        self.pieces = pieces_of(self.spans)
        self._final = {k: n for n, (_, _, k) in enumerate(self.pieces)}  # a span's last piece
        self._batches: dict[int, _Batch] = {}  # batches of spans whose pieces interleave
        self.source = _input_path(self.state, input)
        self.settings = _settings(self.state, config)
        self._credentials = pick_credentials(self.settings, credentials)
        self._owned = transport is None
        self._transport = transport or AiohttpTransport(self.settings.retry.request_timeout)
        self.client = ApiClient(self.settings, self._credentials, self._transport, clock=clock,
                                sleep=sleep, rng=random.Random())
        self.totals = Totals()  # of every row, whether ``only`` keeps it or not
        self.selected = Totals()  # of the rows ``only`` keeps (every row without it)
        self.checkpoint = Checkpoint()
        self.on_checkpoint: Callable[[Checkpoint], None] = lambda checkpoint: None
        self._progress = on_progress or (lambda event: None)
        self.unmatched = 0  # store records no input record claimed
        self.pages = 0

    def estimate(self) -> tuple[int, int]:
        """(messages, Light requests at most) still to read."""
        ahead = dict.fromkeys(k for _, _, k in self.pieces[self.checkpoint.span:])
        return estimate([self.spans[k] for k in ahead], self.only, PER_PAGE)

    @property
    def with_text(self) -> bool:
        """Rows carry a text column whenever a record may have had its own text: a template,
        no batch text, or a CSV or JSONL input (a text column overrides the batch text), so a
        follow-up send of the file texts each recipient what the first campaign did. Only a
        plain list of numbers with a batch text leaves it out."""
        header = self.state.header
        fmt = (header.get("read") or {}).get("format")
        return header.get("template") is not None or header.get("text") is None or \
            fmt != "lines"

    @property
    def extra_columns(self) -> tuple[str, ...]:
        """The columns after ``COLUMNS``: ``text`` (``with_text``), then a scheduled send's
        zone, zoneSource, fate and nextOpening."""
        return ("text",) * self.with_text + (SCHEDULE_COLUMNS if self._fates else ())

    async def __aenter__(self) -> Export:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            with anyio.CancelScope(shield=True):
                await self.client.revoke()
        finally:
            try:
                if self._owned:
                    await self._transport.close()
            finally:
                self._lock.release()

    async def rows(self, start: Checkpoint | None = None) -> AsyncIterator[Row]:
        """Every input record's row in input order (those ``only`` keeps), from ``start``."""
        self.checkpoint = start or Checkpoint()
        self.totals = Totals.from_json(self.checkpoint.totals.as_json())
        self.selected = Totals.from_json(self.checkpoint.selected.as_json())
        with ExitStack() as stack:
            records = self._records(stack, self._resume_at(start))
            local = Journaled(stack.enter_context(closing(local_rejections(self.state))))
            accepted = {span.number for span in self.spans if span.accepted}
            server = Journaled(stack.enter_context(closing(
                server_rejections(self.state, accepted))))
            async for row in self._walk(records, local, server, start):
                yield row

    def _resume_at(self, start: Checkpoint | None) -> StartAt | int | None:
        """Where to read the input from: a record's offset, else a position to skip to."""
        if start is None or start.span >= len(self.pieces):
            return None if start is None else max((b + 1 for _, b, _ in self.pieces),
                                                  default=0)
        first, _, k = self.pieces[start.span]
        span = self.spans[k]
        if start.token is not None and start.offset is not None and start.position is not None:
            return StartAt(b"", start.offset, start.position, start.line or 0)
        if span.offset is not None and span.line is not None and first == span.first:
            return StartAt(b"", span.offset, span.first, span.line)
        return first

    def _records(self, stack: ExitStack, start: StartAt | int | None) -> Iterator[Record]:
        """The input re-read from the top, or from where an interrupted export stopped."""
        header = self.state.header
        read = header.get("read") or {}
        options = ReadOptions.from_header(read, source=self.source,
                                          batch_text=header.get("text"),
                                          template=header.get("template"))
        options = reloaded(read, options, self.journal)
        stream = stack.enter_context(open_input(self.source))
        rejected = stack.enter_context(closing(Backlog(self.journal.parent)))
        at, skip_below = None, start if isinstance(start, int) else 0
        if isinstance(start, StartAt):
            # the format and CSV header come from the first line (not a 2 GB one whole)
            head = stream.readline(MAX_LINE_BYTES + 1)
            stream.seek(start.offset)
            at = StartAt(head, start.offset, start.position, start.line)
        records = in_order(read_lines(stream, options, rejected.append, at), rejected)
        return (r for r in records if r.position >= skip_below)

    async def _walk(self, records: Iterator[Record], local: Journaled, server: Journaled,
                    start: Checkpoint | None) -> AsyncIterator[Row]:
        spans, pieces, k = self.spans, self.pieces, self.checkpoint.span
        batch: _Batch | None = None
        self._batches = {}
        if start is not None and start.token is not None and k < len(pieces):
            going = spans[pieces[k][2]]
            batch = self._batches[pieces[k][2]] = _Batch(going, Matcher(going.batch_id or ""),
                                                         token=start.token)
        for record in records:
            while k < len(pieces) and pieces[k][1] < record.position:
                k += 1
            piece = pieces[k] if k < len(pieces) and pieces[k][0] <= record.position else None
            span = spans[piece[2]] if piece is not None else None
            if piece is not None and span is not None and \
                    (batch is None or batch.span is not span):
                self._close(k)
                batch = self._batches.get(piece[2]) or await self._enter(k, piece[2])
            found, journaled = None, local.at(record.position)
            refused = server.at(record.position)  # streamed like the local ones
            if span is not None and span.accepted and record.rejection is None and \
                    journaled is None and refused is None:
                assert batch is not None
                assert record.to is not None
                if batch.skip:
                    continue  # counted from the batch's status counts instead
                found = await self._find(batch, record, k)
            placed = unsent = None
            if self._fates is not None:
                placed = self._fates.place(record.to if is_e164(record.to) else None,
                                           record.zone)
                unsent = self._fates.unsent(placed)
            row = row_of(record, span, {journaled.index: journaled} if journaled else {},
                         found, batch is not None and batch.complete, refused, unsent)
            if placed is not None:
                zone, source = Fates.where(placed)
                row = row._replace(zone=zone, zoneSource=source)
            self.totals.add(row)
            if keep(row, self.only):
                self.selected.add(row)
                yield row
        self._close(len(pieces))
        self.checkpoint = Checkpoint.at(len(pieces), self.totals, self.selected)

    def _close(self, k: int) -> None:
        """Finish the batches of spans whose last piece lies before piece ``k``."""
        for number, batch in list(self._batches.items()):
            if self._final[number] < k:
                self._finish(batch)
                del self._batches[number]

    async def _enter(self, k: int, number: int) -> _Batch:
        """A new chunk: a checkpoint first (every earlier row is out, and no chunk spanning
        this one is still open), then, with --only, its status counts, which may spare
        reading its message store."""
        span = self.spans[number]
        if not self._batches:
            self.checkpoint = Checkpoint.at(k, self.totals, self.selected)
            self.on_checkpoint(self.checkpoint)
        batch = self._batches[number] = _Batch(span, Matcher(span.batch_id or ""))
        if span.accepted and self.only is not None and not span.pending:
            # (a pending chunk's store is read: its rows are settled from it)
            statuses = await self.client.get_json("/statuses", {"batchId": span.batch_id})
            if isinstance(statuses, Mapping) and not store_needed(self.only, statuses):
                batch.skip = True
                self.totals.add_counts(statuses)
        self._progress({"event": "batch", "chunk": span.number, "index": number + 1,
                        "batches": len(self.spans), "batchId": span.batch_id,
                        "skipped": batch.skip, **self._counters()})
        return batch

    async def _find(self, batch: _Batch, record: Record, k: int) -> Stored | None:
        number = record.to
        assert number is not None
        while number not in batch.matcher.pending and not batch.done:
            if batch.token is not None and batch.matcher.held == 0 and \
                    record.offset is not None and len(self._batches) == 1:
                # Every earlier row is out and nothing read ahead is held: a clean point.
                self.checkpoint = Checkpoint.at(k, self.totals, self.selected,
                                                record.position, record.line,
                                                record.offset, batch.token)
                self.on_checkpoint(self.checkpoint)
            await self._page(batch)
        return batch.matcher.take(number)

    async def _page(self, batch: _Batch) -> None:
        params: dict[str, Any] = {"batchId": batch.span.batch_id, "perPage": PER_PAGE}
        if batch.token:
            params["pageToken"] = batch.token
        records, batch.token = page_of(await self.client.get_json("/messages", params))
        batch.matcher.add(records)
        batch.listed += len(records)
        batch.done = not batch.token
        self.pages += 1
        self._progress({"event": "page", "chunk": batch.span.number, **self._counters()})

    def _finish(self, batch: _Batch | None) -> None:
        if batch is not None:
            self.unmatched += batch.matcher.held + batch.matcher.foreign

    def _counters(self) -> dict[str, Any]:
        return {"rows": self.totals.rows, "pages": self.pages,
                "requests": self.client.requests, "throttled": self.client.throttled}


async def outcomes(journal: str | os.PathLike[str], *,
                   input: str | os.PathLike[str] | None = None,
                   only: Sequence[OutcomeFilter] = (), config: Settings | str | None = None,
                   credentials: Credentials | None = None, transport: Transport | None = None,
                   clock: Callable[[], float] = time.monotonic,
                   sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
                   on_progress: Progress | None = None,
                   wall: Callable[[], float] = time.time) -> AsyncIterator[Row]:
    """Every input record of a run, one ``Row`` each, in input order: ``engine.outcomes``.

    The options are ``Export``'s: ``input`` (the list, when the journal's path moved or the run
    read a stream), ``only`` (outcome names or groups), ``config``, ``credentials``, ...

    >>> async for row in engine.outcomes("run.journal", only=("retryable",)):  # doctest: +SKIP
    ...     print(row.to, row.errorCode)
    """
    async with Export(journal, input=input, only=only, config=config, credentials=credentials,
                      transport=transport, clock=clock, sleep=sleep,
                      on_progress=on_progress, wall=wall) as export:
        async for row in export.rows():
            yield row


class Journaled:
    """The journal's local or server rejections, streamed in position order
    (journal.local_rejections, server_rejections) and asked for in rising positions, as rows
    are made: only the next one is held."""

    def __init__(self, rejections: Iterator[Rejection]) -> None:
        self._rejections = rejections
        self._next = next(rejections, None)

    def at(self, position: int) -> Rejection | None:
        """The journal's rejection of ``position``, if any; earlier ones are passed over."""
        while self._next is not None and self._next.index < position:
            self._next = next(self._rejections, None)
        if self._next is not None and self._next.index == position:
            return self._next
        return None


def _input_path(state: JournalState, given: str | os.PathLike[str] | None) -> str:
    """The run's input, refused when it is not the very list the run read."""
    recorded = state.header.get("input") or {}
    if given is None and recorded.get("kind") != "file":
        raise UsageError("the run read a stream (stdin or an iterable), so its rows cannot be "
                         "read again from the journal alone. Pass the same list with --input "
                         "PATH.")
    path = str(given) if given is not None else recorded["path"]
    if given is None and not os.path.exists(path) and state.path is not None:
        beside = state.path.parent / Path(path).name  # the campaign folder moved
        path = str(beside) if beside.is_file() else path
    if not os.path.exists(path):
        raise UsageError(f"{path}: the run's input is not there any more. Pass it with "
                         "--input PATH.")
    if recorded.get("kind") == "file":
        current = input_identity(path)
        for key in ("size", "head"):
            if current.get(key) != recorded.get(key):
                raise JournalError(f"{path} is not the list the run sent ({key} differs). "
                                   "Rows are matched by position: pass the unchanged list "
                                   "with --input PATH.")
    return path


def _settings(state: JournalState, config: Settings | str | None) -> Settings:
    header = state.header
    settings = config if isinstance(config, Settings) else \
        load_settings(config or journal_profile(header))
    check_journal_server(header, settings)
    return settings
