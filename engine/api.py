"""The library door: ``await engine.send(...)`` and ``engine.send_events(...)``."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import random
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import anyio
import orjson

from engine import lifecycle
from engine.chunker import Chunk, Chunker
from engine.client import ApiClient
from engine.config import (
    Credentials,
    Settings,
    check_campaign,
    credentials_from_env,
    is_loopback,
    load_settings,
)
from engine.errors import ConfigError, UsageError
from engine.journal import Journal, JournalError, input_identity, read_journal
from engine.preflight import Preflight, estimate_recipients, run_preflight
from engine.preflight import Recipients as PreflightRecipients
from engine.ratebudget import OnWait, unless_stopped
from engine.reader import Block, ReadOptions, StartAt, aread_items, read_items, read_lines
from engine.rejections import Rejection, mostly_rejected
from engine.report import build_report, now_iso
from engine.resume import (
    ResumePlan,
    check_matches,
    covered,
    others,
    rebuild_chunk,
    restore,
    without,
)
from engine.sender import ON_AMBIGUOUS, Emit, ReadProgress, Run, produce, recover, work
from engine.sources import is_stream, open_input
from engine.tracker import Tracker
from engine.transport import AiohttpTransport, Transport

Recipients = str | os.PathLike[str] | Iterable[Any] | AsyncIterable[Any]
# accepted: every batch has an id; completed: every batch is Completed (the default);
# delivered: and then every message has its receipt (or the delivery timeout passed).
WAITS = ("completed", "accepted", "delivered")


async def _ignore(event: dict[str, Any]) -> None:
    return None


def _chunks(blocks: Iterable[Block], chunker: Chunker) -> Iterator[Chunk]:
    for block in blocks:
        yield from chunker.feed(block)
    last = chunker.finish()
    if last is not None:
        yield last


async def _achunks(blocks: AsyncIterator[Block], chunker: Chunker) -> AsyncIterator[Chunk]:
    async for block in blocks:
        for chunk in chunker.feed(block):
            yield chunk
    last = chunker.finish()
    if last is not None:
        yield last


async def send(recipients: Recipients | None = None, *, sender: str | None = None,
               text: str | None = None,
               template: str | None = None, config: Settings | str | None = None,
               credentials: Credentials | None = None, read: ReadOptions | None = None,
               concurrency: int | None = None, max_batch_bytes: int | None = None,
               wait: str = "completed", on_ambiguous: str = "reconcile",
               delivery_timeout: float = 3600.0,
               revoke: bool = True, on_event: Emit = _ignore,
               on_read: ReadProgress | None = None,
               transport: Transport | None = None,
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
               stop: anyio.Event | None = None,
               journal: str | os.PathLike[str] | None = None,
               resume: str | os.PathLike[str] | None = None,
               report: str | os.PathLike[str] | None = None,
               on_wait: OnWait | None = None,
               preflight: bool = True) -> dict[str, Any]:
    """Send one campaign and return its report (a JSON-ready dict).

    ``wait`` is one of WAITS; ``delivery_timeout`` bounds the wait for receipts per batch.
    ``recipients`` is a path (CSV, JSONL, plain lines, .gz; "-" for stdin), an iterable or an
    async iterable of numbers, (to, text) pairs or mappings. ``journal`` names the file the run
    records itself in (created when the first chunk is about to be sent); ``resume``
    continues the run a journal describes (same input, sender and text), never sending an
    accepted chunk again; ``report`` names a file the report is also written to. Setting
    ``stop`` ends the run early: no request that creates a batch starts after it, requests
    on the wire finish, and the report says ``interrupted``. ``on_wait(group, seconds)`` is
    told when requests wait for a rate budget. ``preflight`` checks the sender before the
    first POST (engine/preflight.py): a SenderError stops the run with nothing sent.

    >>> import asyncio, engine                                          # doctest: +SKIP
    >>> report = asyncio.run(engine.send(["+14155550100"], sender="+16505550100",
    ...                                  text="Hello"))                   # doctest: +SKIP
    """
    if resume is not None and recipients is None:
        recipients, sender, text, template, read, config = _from_journal(
            Path(resume), sender, text, template, read, config)
    if recipients is None or sender is None:
        raise UsageError("send needs recipients and sender, or resume= a journal that holds "
                         "them.")
    settings = config if isinstance(config, Settings) else load_settings(config or "simulator")
    if concurrency:
        settings = replace(settings, concurrency=concurrency)
    if max_batch_bytes:
        settings = replace(settings, limits=replace(settings.limits,
                                                    max_batch_bytes=max_batch_bytes))
    if wait not in WAITS or on_ambiguous not in ON_AMBIGUOUS:
        raise UsageError(f"wait must be one of {', '.join(WAITS)} and on_ambiguous one of "
                         f"{', '.join(ON_AMBIGUOUS)}; got {wait!r}, {on_ambiguous!r}.")
    options = read or ReadOptions(batch_text=text, template=template)
    check_campaign(sender, text, options.template)
    credentials = credentials or credentials_from_env() or _simulator_credentials(settings)
    if isinstance(recipients, str | os.PathLike):
        options = replace(options, source=str(recipients))
    identity = _identity(recipients, options)
    if journal is not None and resume is None:
        _refuse_existing(Path(journal))
    owned = transport is None
    transport = transport or AiohttpTransport(settings.retry.request_timeout)
    client = ApiClient(settings, credentials, transport, clock=clock, sleep=sleep,
                       rng=random.Random())
    chunker = Chunker(sender, text, settings.limits.max_batch_bytes,
                      settings.limits.max_batch_messages)
    run = Run(settings, client, sender, text, chunker, on_event, on_ambiguous, sleep=sleep,
              clock=clock, slots=anyio.CapacityLimiter(settings.concurrency))
    if _is_path(recipients) and not options.dedupe:
        run.rebuild = _rebuilder(str(recipients), options, sender, text, run)
    if on_read is not None:
        run.on_read = on_read
    if stop is not None:
        run.stopping = stop
    client.stop = run.stopping
    if on_wait is not None:
        client.light.on_wait = client.auth.on_wait = on_wait
    started, interrupted = now_iso(), False
    run_id = str(uuid.uuid4())
    plan: ResumePlan | None = None
    checked: Preflight | None = None
    try:
        if resume is not None:
            state = read_journal(Path(resume))
            check_matches(state, options.source, sender, text, options.template)
            run_id, started = state.header["runId"], state.header.get("startedAt", started)
            plan = restore(state, run.aggregator)
            _adopt_plan(run, chunker, plan)
            run.resume_since = _history_start(state.header)
            if not max_batch_bytes and state.header.get("maxBatchBytes"):
                chunker.max_bytes = min(chunker.max_bytes, state.header["maxBatchBytes"])
            run.journal = Journal.reopen(Path(resume), state.complete_bytes)
        elif journal is not None:
            header = {"runId": run_id, "startedAt": started, "sender": sender, "text": text,
                      "template": options.template, "profile": settings.profile,
                      "profileSource": settings.source,
                      "server": settings.server_url, "maxBatchBytes": chunker.max_bytes,
                      # how to read the input again, for 'a2p outcomes' and --resume alone
                      "read": _read_json(options),
                      "input": identity}
            run.open_journal = lambda: Journal.create(Path(journal), header)
        if await unless_stopped(run.stopping, client.bearer):
            if preflight:
                checked = await _preflight(client, sender, recipients, on_event)
            with ExitStack() as stack:
                local: list[Rejection] = []
                known = set(plan.known_local) if plan is not None else set()
                sink = local.append if plan is None else _filtered_sink(local, known, plan.skip)
                source = _source(recipients, options, chunker, sink, stack, run, plan)
                in_flight = _in_flight(recipients, options, plan, sender, text, stack)
                tracker = Tracker(run, clock, delivery_timeout=delivery_timeout
                                  if wait == "delivered" else None)
                interrupted = await _lone(_execute(run, source, local, wait, tracker,
                                                   in_flight))
            if not run.stopping.is_set():
                run.keep_journal()
    finally:
        if run.journal is not None:
            run.journal.close()
        try:
            if revoke:
                # Shielded so a cancelled run still ends its session, bounded so a second
                # Ctrl-C is not held up by a server that does not answer.
                with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                    await client.revoke()
        finally:
            if owned:
                with anyio.CancelScope(shield=True):
                    await transport.close()
    records = list(run.records.values())
    run.aggregator.records = sum(r.count for r in records if r.state != "split") + \
        run.aggregator.rejected_local
    document = build_report(
        run_id=run_id, profile=settings.profile, source=options.source,
        settings={"server": settings.server_url, "from": sender, "text": text,
                  "template": options.template, "concurrency": settings.concurrency,
                  "maxBatchBytes": settings.limits.max_batch_bytes,
                  "finalMaxBatchBytes": chunker.max_bytes, "wait": wait,
                  "onAmbiguous": on_ambiguous, "limits": asdict(settings.limits)},
        started=started, records=records, aggregator=run.aggregator, wait=wait,
        interrupted=interrupted or run.stopping.is_set())
    document["requests"] = {"made": client.requests, "throttled": client.throttled}
    document["preflight"] = checked.as_json() if checked is not None else None
    document["warnings"] = list(checked.warnings) if checked is not None else []
    warning = mostly_rejected(run.aggregator.records, run.aggregator.rejections())
    if warning is not None:
        document["warnings"].append(warning)
        await on_event({"event": "warning", "code": "mostly-rejected", "message": warning})
    if report is not None:
        _write(Path(report), document)
    await on_event({"event": "summary", "status": document["status"], **document["totals"],
                    "requests": client.requests, "throttled": client.throttled})
    return document


def _write(path: Path, document: dict[str, Any]) -> None:
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))


async def _lone(work: Awaitable[bool]) -> bool:
    """The run's task groups wrap what they raise in an ExceptionGroup; a single error comes
    back as itself, so callers catch ``EngineError`` (or their own exception) as usual."""
    try:
        return await work
    except BaseExceptionGroup as group:
        leaves = list(_leaves(group))
        if len(leaves) == 1:
            raise leaves[0] from leaves[0].__cause__
        raise


def _leaves(group: BaseExceptionGroup[Any]) -> Iterator[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


def _identity(recipients: Recipients, options: ReadOptions) -> dict[str, Any]:
    """The input's identity for the journal, taken before anything is read; a missing file
    is an InputError here, before the login."""
    if not _is_path(recipients):
        return {"kind": "stream"}
    with open_input(options.source):
        pass
    return input_identity(options.source)


def _refuse_existing(path: Path) -> None:
    """Refused before the login, not after: an existing journal is a run to resume."""
    if path.exists() and path.stat().st_size > 0:
        raise JournalError(f"{path}: a journal already exists there. Resume it with --resume "
                           f"{path}, or choose another --journal path.")


async def _preflight(client: ApiClient, sender: str, recipients: Recipients, on_event: Emit
                     ) -> Preflight:
    checked = await run_preflight(client, sender, estimate_recipients(recipients))
    for message in checked.warnings:
        await on_event({"event": "warning", "code": "preflight", "message": message})
    return checked


async def check(sender: str, *, config: Settings | str = "simulator",
                credentials: Credentials | None = None, recipients: int | None = None,
                transport: Transport | None = None) -> Preflight:
    """The pre-flight on its own (``a2p check``): log in, confirm ``sender`` is one of the
    user's A2P numbers, read its registration tier. Raises AuthError or SenderError.

    >>> import asyncio, engine.api                                      # doctest: +SKIP
    >>> asyncio.run(engine.api.check("+16505550100")).warnings           # doctest: +SKIP
    ()
    """
    settings = config if isinstance(config, Settings) else load_settings(config)
    credentials = credentials or credentials_from_env() or _simulator_credentials(settings)
    owned = transport is None
    transport = transport or AiohttpTransport(settings.retry.request_timeout)
    client = ApiClient(settings, credentials, transport, clock=time.monotonic,
                       sleep=anyio.sleep, rng=random.Random())
    size = None if recipients is None else PreflightRecipients(recipients, True)
    try:
        return await run_preflight(client, sender, size)
    finally:
        try:
            with anyio.CancelScope(shield=True):
                await client.revoke()
        finally:
            if owned:
                await transport.close()


READ_KEYS = {"format": "format", "toColumn": "to_column", "textColumn": "text_column",
             "textColumnRequired": "text_column_required", "strict": "strict",
             "dedupe": "dedupe"}


def _read_json(options: ReadOptions) -> dict[str, Any]:
    return {key: getattr(options, name) for key, name in READ_KEYS.items()}


def _from_journal(path: Path, sender: str | None, text: str | None, template: str | None,
                  read: ReadOptions | None, config: Settings | str | None
                  ) -> tuple[str, str, str | None, str | None, ReadOptions, Settings | str]:
    """What ``send(resume=path)`` alone needs, from the journal's header: the input, sender,
    text, template, reading options and profile. Values given as well are checked later."""
    header = read_journal(path).header
    source = header.get("input", {})
    if source.get("kind") != "file":
        raise UsageError(f"{path}: the run read a stream (stdin or an iterable), which the "
                         "journal cannot give again. Pass the same input with resume=.")
    options = read or ReadOptions(**{READ_KEYS[k]: v for k, v in header.get("read", {}).items()
                                     if k in READ_KEYS})
    options = replace(options, batch_text=header.get("text"),
                      template=header.get("template"))
    profile = config or header.get("profileSource") or header.get("profile") or "simulator"
    return (source["path"], sender or header["sender"], text or header.get("text"),
            template or header.get("template"), options, profile)


def _simulator_credentials(settings: Settings) -> Credentials:
    """The simulator's demo credentials, and only for a simulator on this machine."""
    from engine.simulator.settings import load_simulator_settings

    missing = ConfigError("environment", "RC_APP_CLIENT_ID", "no credentials are set",
                          "Set RC_APP_CLIENT_ID, RC_APP_CLIENT_SECRET and RC_USER_JWT.")
    if not is_loopback(settings.server_url):
        raise missing
    try:
        return load_simulator_settings(settings.source, env={}).credentials
    except ConfigError:
        raise missing from None


def _is_path(recipients: Recipients) -> bool:
    return isinstance(recipients, str | os.PathLike) and not is_stream(str(recipients))


def _adopt_plan(run: Run, chunker: Chunker, plan: ResumePlan) -> None:
    run.records.update(plan.records)
    run.owned |= {r.batch_id for r in plan.records.values() if r.batch_id}
    run.set_next_number(plan.next_number)
    run.origins.update(plan.origins)
    chunker.set_next_number(plan.next_number)
    if plan.max_bytes:
        chunker.max_bytes = min(chunker.max_bytes, plan.max_bytes)


def _filtered_sink(local: list[Rejection], known: set[int], skip: list[tuple[int, int]]
                   ) -> Callable[[Rejection], None]:
    """Local rejections found again on a resumed read are already in the journal."""
    def sink(rejection: Rejection) -> None:
        if rejection.index not in known and not covered(skip, rejection.index):
            local.append(rejection)

    return sink


def _read_file_from(path: str, options: ReadOptions, sink: Callable[[Rejection], None],
                    entry: dict[str, Any] | None, stack: ExitStack
                    ) -> tuple[BinaryIO, Iterator[Block]]:
    """A file's blocks from the record a journal entry starts at (or from the top)."""
    stream = stack.enter_context(open_input(path))
    if entry is None or entry.get("offset") is None:
        return stream, read_lines(stream, options, sink)
    header = stream.readline()
    stream.seek(entry["offset"])
    start = StartAt(header, entry["offset"], entry["first"], entry["line"])
    return stream, read_lines(stream, options, sink, start)


def _source(recipients: Recipients, options: ReadOptions, chunker: Chunker,
            sink: Callable[[Rejection], None], stack: ExitStack, run: Run,
            plan: ResumePlan | None = None) -> Iterator[Chunk] | AsyncIterator[Chunk]:
    skip = plan.skip if plan is not None else []
    if _is_path(recipients):
        # a --dedupe run reads from the top, so its seen-set holds every earlier number
        entry = plan.read_from if plan is not None and not options.dedupe else None
        stream, blocks = _read_file_from(str(recipients), options, sink, entry, stack)
        run.share_read = _share_of(stream)
        return _chunks(without(blocks, skip) if skip else blocks, chunker)
    if isinstance(recipients, str | os.PathLike):  # "-": stdin, read from the top
        stream = stack.enter_context(open_input(str(recipients)))
        run.share_read = _share_of(stream)
        return _chunks(without(read_lines(stream, options, sink), skip), chunker)
    if isinstance(recipients, AsyncIterable):
        return _achunks(_awithout(aread_items(recipients, options, sink), skip), chunker)
    return _chunks(without(read_items(recipients, options, sink), skip), chunker)


async def _awithout(blocks: AsyncIterator[Block], skip: list[tuple[int, int]]
                    ) -> AsyncIterator[Block]:
    async for block in blocks:
        for kept in without([block], skip):
            yield kept


def _in_flight(recipients: Recipients, options: ReadOptions, plan: ResumePlan | None, sender: str,
               text: str | None, stack: ExitStack) -> list[Chunk | dict[str, Any]]:
    """Chunks caught mid-request by the stop, rebuilt from the input so they can be
    reconciled; entries that cannot be rebuilt (not a file) come back as they are."""
    if plan is None:
        return []
    out: list[Chunk | dict[str, Any]] = []
    for entry in plan.in_flight:
        if not _is_path(recipients):
            out.append(entry)
            continue
        start = None if options.dedupe else entry  # dedupe needs every earlier number
        _, blocks = _read_file_from(str(recipients), options, lambda r: None, start, stack)
        out.append(rebuild_chunk(blocks, entry, sender, text, others(plan.records, entry)))
    return out


def _history_start(header: dict[str, Any]) -> float | None:
    """Where a resumed run looks for lost batches: an hour before the run began (our clock
    then, so an hour also covers a server clock that is off)."""
    try:
        return datetime.fromisoformat(header["startedAt"]).timestamp() - 3600.0
    except (KeyError, TypeError, ValueError):
        return None


def _rebuilder(path: str, options: ReadOptions, sender: str, text: str | None, run: Run
               ) -> Callable[[int], Awaitable[Chunk]]:
    """Reads a chunk of a file again from where it began, so a chunk waiting on a lost
    answer holds no body."""
    async def rebuild(number: int) -> Chunk:
        record = run.records[number]
        offset, line = run.origins.get(number, (None, None))
        entry = {"chunk": number, "first": record.first, "last": record.last,
                 "messages": record.count, "offset": offset, "line": line}

        def build() -> Chunk:
            with ExitStack() as stack:
                _, blocks = _read_file_from(path, options, lambda r: None, entry, stack)
                return rebuild_chunk(blocks, entry, sender, text, others(run.records, entry))

        return await anyio.to_thread.run_sync(build)

    return rebuild


def _share_of(stream: BinaryIO) -> Callable[[], float | None]:
    """How much of a regular, uncompressed file has been read: tell() costs nothing per line."""
    try:
        size = os.fstat(stream.fileno()).st_size if stream.seekable() else 0
    except (OSError, ValueError):
        size = 0
    if not size or isinstance(stream, gzip.GzipFile):
        return lambda: None
    return lambda: min(1.0, stream.tell() / size)


async def _execute(run: Run, source: Iterator[Chunk] | AsyncIterator[Chunk],
                   local: list[Rejection], wait: str, tracker: Tracker,
                   in_flight: list[Chunk | dict[str, Any]]) -> bool:
    tracking = wait != "accepted"
    on_accepted = tracker.add if tracking else (lambda record: None)
    if tracking:
        for record in run.records.values():
            if record.state == lifecycle.ACCEPTED:
                tracker.add(record)
    send_stream, receive_stream = anyio.create_memory_object_stream[Chunk](0)
    async with anyio.create_task_group() as group:
        if tracking:
            # a stop ends tracking at once, even mid-poll: polls create nothing
            group.start_soon(unless_stopped, run.stopping, tracker.follow)
        async with anyio.create_task_group() as pending:
            run.pending = pending  # lost answers are reconciled here, beside the workers
            for caught in in_flight:
                pending.start_soon(recover, run, caught, on_accepted)
            pending.start_soon(produce, run, source, send_stream, local)
            async with anyio.create_task_group() as workers, receive_stream:
                for _ in range(run.settings.concurrency):
                    workers.start_soon(work, run, receive_stream.clone(), on_accepted)
        run.pending = None
        run.submitted.set()
        tracker.wake.set()
    return run.stopping.is_set()


async def send_events(recipients: Recipients, **options: Any) -> AsyncIterator[dict[str, Any]]:
    """The same run as ``send``, as an async iterator of its events (the last is "summary").

    Leaving early (``break``, ``aclose()``, an exception in the loop) stops the run the way
    Ctrl-C does: no new batch is sent, requests on the wire finish, and the report is still
    written when ``report`` or ``journal`` was given. An exception raised by the run (one of
    ours, or one from the caller's own iterable of recipients) comes out as itself.

    >>> async for event in engine.send_events("list.csv", sender="+16505550100",
    ...                                       text="Hi"):                # doctest: +SKIP
    ...     print(event["event"])
    """
    stop = options.pop("stop", None) or anyio.Event()
    events_in, events_out = anyio.create_memory_object_stream[dict[str, Any]](64)
    wanted = True

    async def emit(event: dict[str, Any]) -> None:
        if wanted:  # once the caller has left, the run's last events have no reader
            with contextlib.suppress(anyio.BrokenResourceError):
                await events_in.send(event)

    async def run() -> None:
        async with events_in:
            await send(recipients, on_event=emit, stop=stop, **options)

    # The run is a task of its own, not a task group around the ``yield``: a generator may be
    # finished from another task (``break`` leaves that to the event loop's finaliser), and a
    # cancel scope must be left in the task that entered it. aiohttp ties the run to asyncio.
    task = asyncio.get_running_loop().create_task(run())
    try:
        async with events_out:
            async for event in events_out:
                yield event
        await task
    finally:
        wanted = False
        if not task.done():
            stop.set()
            events_out.close()
            with anyio.CancelScope(shield=True):
                await asyncio.wait([task])
        failure = None if task.cancelled() else task.exception()
        if failure is not None:  # the run's own error, whichever way the caller left
            raise failure
