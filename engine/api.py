"""The library door: ``await engine.send(...)`` and ``engine.send_events(...)``."""

from __future__ import annotations

import gzip
import os
import random
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, BinaryIO

import anyio

from engine import lifecycle
from engine.chunker import Chunk, Chunker
from engine.client import ApiClient
from engine.config import (
    Credentials,
    Settings,
    credentials_from_env,
    is_loopback,
    load_settings,
)
from engine.errors import ConfigError, UsageError
from engine.journal import Journal, input_identity, read_journal
from engine.preflight import Preflight, estimate_recipients, run_preflight
from engine.preflight import Recipients as PreflightRecipients
from engine.reader import Block, ReadOptions, StartAt, aread_items, read_items, read_lines
from engine.rejections import Rejection, mostly_rejected
from engine.report import build_report, now_iso
from engine.resume import ResumePlan, check_matches, covered, rebuild_chunk, restore, without
from engine.sender import ON_AMBIGUOUS, Emit, ReadProgress, Run, produce, recover, work
from engine.sources import open_input
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


async def send(recipients: Recipients, *, sender: str, text: str | None = None,
               template: str | None = None, config: Settings | str = "simulator",
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
               preflight: bool = True) -> dict[str, Any]:
    """Send one campaign and return its report (a JSON-ready dict).

    ``wait`` is one of WAITS; ``delivery_timeout`` bounds the wait for receipts per batch.
    ``recipients`` is a path (CSV, JSONL, plain lines, .gz; "-" for stdin), an iterable or an
    async iterable of numbers, (to, text) pairs or mappings. ``journal`` names the file the run
    records itself in; ``resume`` continues the run a journal describes (same input, sender
    and text), never sending an accepted chunk again. ``preflight`` checks the sender before
    the first POST (engine/preflight.py): a SenderError stops the run with nothing sent.

    >>> import asyncio, engine                                          # doctest: +SKIP
    >>> report = asyncio.run(engine.send(["+14155550100"], sender="+16505550100",
    ...                                  text="Hello"))                   # doctest: +SKIP
    """
    settings = config if isinstance(config, Settings) else load_settings(config)
    if concurrency:
        settings = replace(settings, concurrency=concurrency)
    if max_batch_bytes:
        settings = replace(settings, limits=replace(settings.limits,
                                                    max_batch_bytes=max_batch_bytes))
    if wait not in WAITS or on_ambiguous not in ON_AMBIGUOUS:
        raise UsageError(f"wait must be one of {', '.join(WAITS)} and on_ambiguous one of "
                         f"{', '.join(ON_AMBIGUOUS)}; got {wait!r}, {on_ambiguous!r}.")
    credentials = credentials or credentials_from_env() or _simulator_credentials(settings)
    options = read or ReadOptions(batch_text=text, template=template)
    if isinstance(recipients, str | os.PathLike):
        options = replace(options, source=str(recipients))
    owned = transport is None
    transport = transport or AiohttpTransport(settings.retry.request_timeout)
    client = ApiClient(settings, credentials, transport, clock=clock, sleep=sleep,
                       rng=random.Random())
    chunker = Chunker(sender, text, settings.limits.max_batch_bytes,
                      settings.limits.max_batch_messages)
    run = Run(settings, client, sender, text, chunker, on_event, on_ambiguous, sleep=sleep)
    if on_read is not None:
        run.on_read = on_read
    if stop is not None:
        run.stopping = stop
    started, interrupted = now_iso(), False
    run_id = str(uuid.uuid4())
    plan: ResumePlan | None = None
    try:
        if resume is not None:
            state = read_journal(Path(resume))
            check_matches(state, options.source, sender, text, options.template)
            run_id, started = state.header["runId"], state.header.get("startedAt", started)
            plan = restore(state, run.aggregator)
            _adopt_plan(run, chunker, plan)
            run.journal = Journal.reopen(Path(resume), state.complete_bytes)
        elif journal is not None:
            header = {"runId": run_id, "startedAt": started, "sender": sender, "text": text,
                      "template": options.template, "profile": settings.profile,
                      "server": settings.server_url, "maxBatchBytes": chunker.max_bytes,
                      # how to read the input again, for 'a2p outcomes'
                      "read": {"format": options.format, "toColumn": options.to_column,
                               "textColumn": options.text_column,
                               "textColumnRequired": options.text_column_required},
                      "input": input_identity(options.source) if _is_path(recipients)
                      else {"kind": "stream"}}
            run.journal = Journal.create(Path(journal), header)
        await client.bearer()
        checked = await _preflight(client, sender, recipients, on_event) if preflight else None
        with ExitStack() as stack:
            local: list[Rejection] = []
            known = set(plan.known_local) if plan is not None else set()
            sink = local.append if plan is None else _filtered_sink(local, known, plan.skip)
            source = _source(recipients, options, chunker, sink, stack, run, plan)
            in_flight = _in_flight(recipients, options, plan, sender, text, stack)
            tracker = Tracker(run, clock, delivery_timeout=delivery_timeout
                              if wait == "delivered" else None)
            interrupted = await _execute(run, source, local, wait, tracker, in_flight)
    finally:
        if run.journal is not None:
            run.journal.close()
        try:
            if revoke:
                with anyio.CancelScope(shield=True):
                    await client.revoke()
        finally:
            if owned:
                await transport.close()
    records = list(run.records.values())
    run.aggregator.records = sum(r.count for r in records if r.state != "split") + \
        run.aggregator.rejected_local
    report = build_report(
        run_id=run_id, profile=settings.profile, source=options.source,
        settings={"server": settings.server_url, "from": sender, "text": text,
                  "template": options.template, "concurrency": settings.concurrency,
                  "maxBatchBytes": settings.limits.max_batch_bytes,
                  "finalMaxBatchBytes": chunker.max_bytes, "wait": wait,
                  "onAmbiguous": on_ambiguous, "limits": asdict(settings.limits)},
        started=started, records=records, aggregator=run.aggregator, wait=wait,
        interrupted=interrupted or run.stopping.is_set())
    report["requests"] = {"made": client.requests, "throttled": client.throttled}
    report["preflight"] = checked.as_json() if checked is not None else None
    report["warnings"] = list(checked.warnings) if checked is not None else []
    warning = mostly_rejected(run.aggregator.records, run.aggregator.rejections())
    if warning is not None:
        report["warnings"].append(warning)
        await on_event({"event": "warning", "code": "mostly-rejected", "message": warning})
    await on_event({"event": "summary", "status": report["status"], **report["totals"],
                    "requests": client.requests, "throttled": client.throttled})
    return report


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
    return isinstance(recipients, str | os.PathLike) and str(recipients) != "-"


def _adopt_plan(run: Run, chunker: Chunker, plan: ResumePlan) -> None:
    run.records.update(plan.records)
    run.owned |= {r.batch_id for r in plan.records.values() if r.batch_id}
    run.set_next_number(plan.next_number)
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
        entry = plan.read_from if plan is not None else None
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
        _, blocks = _read_file_from(str(recipients), options, lambda r: None, entry, stack)
        out.append(rebuild_chunk(blocks, entry, sender, text))
    return out


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
        for caught in in_flight:
            group.start_soon(recover, run, caught, on_accepted)
        group.start_soon(produce, run, source, send_stream, local)
        async with anyio.create_task_group() as workers:
            async with receive_stream:
                for _ in range(run.settings.concurrency):
                    workers.start_soon(work, run, receive_stream.clone(), on_accepted)
            if tracking:
                group.start_soon(tracker.follow)
        run.submitted.set()
        tracker.wake.set()
    return run.stopping.is_set()


async def send_events(recipients: Recipients, **options: Any) -> AsyncIterator[dict[str, Any]]:
    """The same run as ``send``, as an async iterator of its events (the last is "summary")."""
    events_in, events_out = anyio.create_memory_object_stream[dict[str, Any]](64)

    async def emit(event: dict[str, Any]) -> None:
        await events_in.send(event)

    async def run() -> None:
        async with events_in:
            await send(recipients, on_event=emit, **options)

    async with anyio.create_task_group() as group, events_out:
        group.start_soon(run)
        async for event in events_out:
            yield event

