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

from engine.chunker import Chunk, Chunker
from engine.client import ApiClient
from engine.config import Credentials, Settings, credentials_from_env, load_settings
from engine.errors import ConfigError, UsageError
from engine.reader import Block, ReadOptions, aread_items, read_items, read_lines
from engine.rejections import Rejection
from engine.report import build_report, now_iso
from engine.sender import ON_AMBIGUOUS, Emit, ReadProgress, Run, produce, work
from engine.sources import open_input
from engine.tracker import Tracker
from engine.transport import AiohttpTransport, Transport

Recipients = str | os.PathLike[str] | Iterable[Any] | AsyncIterable[Any]


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
               revoke: bool = True, on_event: Emit = _ignore,
               on_read: ReadProgress | None = None,
               transport: Transport | None = None,
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
               stop: anyio.Event | None = None) -> dict[str, Any]:
    """Send one campaign and return its report (a JSON-ready dict).

    ``recipients`` is a path (CSV, JSONL, plain lines, .gz; "-" for stdin), an iterable or an
    async iterable of numbers, (to, text) pairs or mappings.

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
    if wait not in ("completed", "accepted") or on_ambiguous not in ON_AMBIGUOUS:
        raise UsageError(f"wait must be completed or accepted and on_ambiguous one of "
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
    try:
        await client.bearer()
        with ExitStack() as stack:
            local: list[Rejection] = []
            source = _source(recipients, options, chunker, local, stack, run)
            interrupted = await _execute(run, source, local, wait, clock)
    finally:
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
        run_id=str(uuid.uuid4()), profile=settings.profile, source=options.source,
        settings={"server": settings.server_url, "from": sender, "text": text,
                  "template": options.template, "concurrency": settings.concurrency,
                  "maxBatchBytes": settings.limits.max_batch_bytes,
                  "finalMaxBatchBytes": chunker.max_bytes, "wait": wait,
                  "onAmbiguous": on_ambiguous, "limits": asdict(settings.limits)},
        started=started, records=records, aggregator=run.aggregator, wait=wait,
        interrupted=interrupted or run.stopping.is_set())
    report["requests"] = {"made": client.requests, "throttled": client.throttled}
    await on_event({"event": "summary", "status": report["status"], **report["totals"],
                    "requests": client.requests, "throttled": client.throttled})
    return report


def _simulator_credentials(settings: Settings) -> Credentials:
    from engine.simulator.settings import load_simulator_settings

    try:
        return load_simulator_settings(settings.source, env={}).credentials
    except ConfigError:
        raise ConfigError("environment", "RC_APP_CLIENT_ID", "no credentials are set",
                          "Set RC_APP_CLIENT_ID, RC_APP_CLIENT_SECRET and RC_USER_JWT.") from None


def _source(recipients: Recipients, options: ReadOptions, chunker: Chunker,
            local: list[Rejection], stack: ExitStack, run: Run
            ) -> Iterator[Chunk] | AsyncIterator[Chunk]:
    if isinstance(recipients, str | os.PathLike):
        stream = stack.enter_context(open_input(str(recipients)))
        run.share_read = _share_of(stream)
        return _chunks(read_lines(stream, options, local.append), chunker)
    if isinstance(recipients, AsyncIterable):
        return _achunks(aread_items(recipients, options, local.append), chunker)
    return _chunks(read_items(recipients, options, local.append), chunker)


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
                   local: list[Rejection], wait: str, clock: Callable[[], float]) -> bool:
    tracker = Tracker(run, clock)
    on_accepted = tracker.add if wait == "completed" else (lambda record: None)
    send_stream, receive_stream = anyio.create_memory_object_stream[Chunk](0)
    async with anyio.create_task_group() as group:
        group.start_soon(produce, run, source, send_stream, local)
        async with anyio.create_task_group() as workers:
            async with receive_stream:
                for _ in range(run.settings.concurrency):
                    workers.start_soon(work, run, receive_stream.clone(), on_accepted)
            if wait == "completed":
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


def report_path(path: str | None, run_id: str) -> Path:
    return Path(path) if path else Path(f"a2p-report-{run_id[:8]}.json")
