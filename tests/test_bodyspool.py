"""Request bodies spooled to disk (engine/run/bodyspool.py): the very bytes the chunker would
build in memory, posted from their file with the same bytes on every attempt, never sent
whole once changed, and gone from disk once their chunk is done and when the run ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

import engine
from engine.batching.chunker import Chunker, chunk_blocks
from engine.errors import NotSentError
from engine.rc.transport import SLICE, AiohttpTransport
from engine.reading import Block
from engine.run.bodyspool import SUFFIX, BodySpool, BodySpoolError, open_spool
from engine.run.options import SendOptions
from tests.fakes import (
    CREDENTIALS,
    SENDER,
    FakeA2P,
    FakeClock,
    MockTransport,
    Request,
    reply,
    settings,
)


def _blocks(n: int) -> list[Block]:
    tos = [f"+1415555{k:04d}" for k in range(n)]
    # texts of their own, some holding what a message starts with, quotes and non-GSM
    texts: list[str | None] = [None if k % 3 else f'Hi {k} {{"to":["+1"]}} "ü" \\' for k in
                               range(n)]
    positions = [2 * k for k in range(n)]  # a rejected row between any two
    return [Block(tos[a:a + 500], texts[a:a + 500], positions[a:a + 500], None)
            for a in range(0, n, 500)]


def test_a_spooled_body_is_the_bytes_built_in_memory(tmp_path: Path) -> None:
    """Every spooled chunk holds exactly the bytes, size and digest the in-memory chunker
    makes, and reading it twice gives the same bytes."""
    with BodySpool(tmp_path / f"j{SUFFIX}") as spool:
        spooled = list(Chunker(SENDER, "Hi", 40_000, sinks=spool.sink).chunks(_blocks(3000)))
        in_memory = list(chunk_blocks(_blocks(3000), SENDER, "Hi", 40_000))
        assert len(spooled) == len(in_memory) >= 3
        for disk, memory in zip(spooled, in_memory, strict=True):
            assert bytes(disk.body) == bytes(disk.body) == memory.body
            assert (disk.size, len(disk.body), disk.digest) == \
                (memory.size, len(memory.body), memory.digest)
            assert b"".join(disk.body.pieces(777)) == memory.body  # type: ignore[union-attr]


def test_a_body_file_goes_when_its_chunk_goes_and_the_folder_at_the_end(
        tmp_path: Path) -> None:
    """A body's file lasts as long as its chunk; closing the spool removes the folder."""
    spool = BodySpool(tmp_path / f"j{SUFFIX}")
    chunks = list(Chunker(SENDER, "Hi", 40_000, sinks=spool.sink).chunks(_blocks(3000)))
    assert len(spool.files()) == len(chunks)
    del chunks[0]
    assert len(spool.files()) == len(chunks)
    spool.close()
    assert not spool.path.exists()


def test_a_journal_s_folder_left_by_a_killed_run_is_emptied(tmp_path: Path) -> None:
    """The body folder beside a journal that a killed run left is emptied when the journal
    is taken again: nothing is ever sent from a stray body."""
    journal = tmp_path / "run.journal"
    stray = Path(f"{journal}{SUFFIX}")
    stray.mkdir()
    (stray / "body-1.json").write_bytes(b"{}")
    with open_spool(journal, None) as spool:
        assert spool.path == stray
        assert spool.files() == []
    assert not stray.exists()


def test_a_body_that_cannot_be_written_says_where_and_what_to_do(tmp_path: Path) -> None:
    """A body folder that is gone (a full or lost volume) is a BodySpoolError that names
    the file and says to free space."""
    spool = BodySpool(tmp_path / f"j{SUFFIX}")
    spool.close()
    with pytest.raises(BodySpoolError, match=r"body-1\.json.*Free space"):
        list(Chunker(SENDER, "Hi", 40_000, sinks=spool.sink).chunks(_blocks(10)))


def test_a_changed_body_file_is_never_handed_on_whole(tmp_path: Path) -> None:
    """A body file changed after it was written (same size, other bytes) raises before its
    last piece, so a request made of it never reaches its Content-Length."""
    with BodySpool(tmp_path / f"j{SUFFIX}") as spool:
        chunk = next(iter(Chunker(SENDER, "Hi", 40_000, sinks=spool.sink)
                          .chunks(_blocks(3000))))
        path = spool.files()[0]
        data = bytearray(path.read_bytes())
        data[-10] ^= 1
        path.write_bytes(bytes(data))
        pieces = chunk.body.pieces(1000)  # type: ignore[union-attr]
        handed: list[bytes] = []
        with pytest.raises(BodySpoolError, match="changed on disk"):
            handed.extend(pieces)
        assert sum(len(piece) for piece in handed) < len(chunk.body)


# Posted from the file, through aiohttp to a real server on loopback -------------------------

RECEIVED = web.AppKey("received", list)


async def _keep(request: web.Request) -> web.Response:
    request.app[RECEIVED].append((request.content_length, await request.read()))
    return web.json_response({"ok": True}, status=201)


@contextlib.asynccontextmanager
async def receiving() -> AsyncIterator[tuple[str, list[tuple[int | None, bytes]]]]:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[RECEIVED] = []
    app.router.add_post("/batches", _keep)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.base_events.Server)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", app[RECEIVED]
    finally:
        await runner.cleanup()


async def test_a_spooled_body_posted_twice_sends_the_same_bytes(tmp_path: Path) -> None:
    """A spooled body of many slices, posted twice (a retry), reaches the server whole both
    times with its Content-Length, byte for byte what the chunker built."""
    with BodySpool(tmp_path / f"j{SUFFIX}") as spool:
        chunk = next(iter(Chunker(SENDER, "Hi", 5 * SLICE, sinks=spool.sink)
                          .chunks(_blocks(40_000))))
        assert len(chunk.body) > 3 * SLICE
        transport = AiohttpTransport(30.0)
        try:
            async with receiving() as (url, received):
                for _ in range(2):
                    answer = await transport.request("POST", url + "/batches", headers={},
                                                     body=chunk.body)
                    assert answer.status == 201
        finally:
            await transport.close()
        expected = bytes(chunk.body)
        assert received == [(len(expected), expected)] * 2
        assert len(orjson.loads(expected)["messages"]) == chunk.count


async def test_a_body_changed_on_disk_is_not_sent(tmp_path: Path) -> None:
    """A spooled body whose file changed is cut short of its Content-Length: NotSentError,
    and the server never has a whole request to make a batch of."""
    with BodySpool(tmp_path / f"j{SUFFIX}") as spool:
        chunk = next(iter(Chunker(SENDER, "Hi", 5 * SLICE, sinks=spool.sink)
                          .chunks(_blocks(40_000))))
        path = spool.files()[0]
        path.write_bytes(path.read_bytes()[:-1] + b" ")
        transport = AiohttpTransport(30.0)
        try:
            async with receiving() as (url, received):
                with pytest.raises(NotSentError, match="cut short"):
                    await transport.request("POST", url + "/batches", headers={},
                                            body=chunk.body)
        finally:
            await transport.close()
        assert received == []


# A whole run on fakes ----------------------------------------------------------------------

def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _options(transport: MockTransport, report: Path, **changes: Any) -> SendOptions:
    clock = FakeClock()
    return SendOptions(sender=SENDER, text="Hi", config=settings(), credentials=CREDENTIALS,
                       transport=transport, clock=clock, sleep=clock.sleep,
                       preflight=False, report=str(report), **changes)


async def test_a_retry_resends_the_same_spooled_bytes_and_no_body_is_left(
        tmp_path: Path) -> None:
    """A batch answered 429 is sent again with the very bytes of its first request; after the
    run no body file or folder is left beside the report."""
    fake = FakeA2P(posts=[reply(429, {"errorCode": "CMN-301", "message": "slow down"},
                                Retry_After="1")])
    numbers = [f"+1415555{k:04d}" for k in range(40)]
    transport = MockTransport(fake)
    report = await engine.send(numbers, _options(transport, tmp_path / "r.json"))
    assert report["totals"]["sent"] == 40
    posts = [r for r in transport.requests if r.method == "POST" and r.path == "/batches"]
    assert len(posts) == 2
    assert posts[0].body == posts[1].body
    assert [m["to"][0] for m in orjson.loads(posts[0].body or b"")["messages"]] == numbers
    assert _names(tmp_path) == ["r.json"]


async def test_bodies_on_disk_stay_bounded_by_the_concurrency(tmp_path: Path) -> None:
    """On a list of over 100 batches, the bodies on disk at any POST never number more than the
    concurrency plus the one waiting and the one being built; a journal's folder is gone
    after the run."""
    journal = tmp_path / "run.journal"
    folder = Path(f"{journal}{SUFFIX}")
    most = 0

    def count(request: Request) -> Any:
        nonlocal most
        most = max(most, len(_names(folder)))
        return fake.create(request.json())

    fake = FakeA2P(posts=[count] * 1000)
    numbers = [f"+1415555{k:04d}" for k in range(1200)]
    report = await engine.send(numbers, _options(MockTransport(fake), tmp_path / "r.json",
                                                 concurrency=2,
                                                 max_batch_bytes=300,
                                                 journal=str(journal)))
    assert report["totals"]["sent"] == 1200
    assert len(report["batches"]) >= 100
    assert 1 <= most <= 2 + 2
    assert "run.journal.bodies" not in _names(tmp_path)


# The sender reads a server rejection's recipient from the spooled body ---------------------

async def test_server_rejections_are_checked_against_the_spooled_body(tmp_path: Path) -> None:
    """A 201 whose rejected entry names the spooled chunk's recipient at that index is taken
    (the rejection reported at its input position); one naming another number is another
    request's answer: its batch is looked for, not taken from it."""
    import random

    from engine.core import lifecycle
    from engine.core.lifecycle import Reason
    from engine.rc.client import ApiClient
    from engine.run.recorder import Recorder
    from engine.run.sender import RunSettings, Sender

    async def run(named: str) -> tuple[str, Reason | None, int]:
        server = FakeA2P()

        def rejecting(request: Request) -> Any:
            batch = server.make(request.json())
            return reply(201, {**batch, "rejected": [
                {"index": 1500, "to": [named], "errorCode": "CMN-100", "description": "x"}]})

        server.posts.append(rejecting)
        clock = FakeClock()
        config = settings(reconcile_window=5.0)
        client = ApiClient(config, CREDENTIALS, MockTransport(server), clock=clock,
                           sleep=clock.sleep, rng=random.Random(3), wall=clock)

        async def emit(event: Any) -> None:
            del event

        recorder = Recorder(emit)
        with BodySpool(tmp_path / f"{named}{SUFFIX}") as spool:
            chunker = Chunker(SENDER, "Hi", 10 * SLICE, sinks=spool.sink)
            sender = Sender(RunSettings(config, SENDER, "Hi", "reconcile"), client, chunker,
                            recorder, sleep=clock.sleep, clock=clock)
            (chunk,) = chunker.chunks(_blocks(3000))
            assert not isinstance(chunk.body, bytes | bytearray)
            await sender.submit(chunk, recorder.record_for(chunk))
        record = recorder.records[1]
        return record.state, record.reason, recorder.aggregator.rejected_server

    own = "+14155551499"  # message 1500's recipient
    assert await run(own) == (lifecycle.ACCEPTED, None, 1)
    state, reason, rejected = await run("+14155550007")
    assert (state, reason, rejected) == (lifecycle.ACCEPTED, Reason.ADOPTED, 0)


@pytest.mark.parametrize("meddle", ["delete", "truncate"])
async def test_a_body_file_gone_after_its_201_keeps_the_batch_and_leaves_its_rejections_pending(
        tmp_path: Path, meddle: str) -> None:
    """A body file removed or cut short while its POST is answered 201 with a rejection: the
    batch is accepted with its id (never sent again, no error, no "not sent" said), and the
    rejection it names, which cannot be checked against the body, is not taken: that
    recipient is pending until the batch's message store names it."""
    import random

    from engine.core import lifecycle
    from engine.core.lifecycle import Reason
    from engine.rc.client import ApiClient
    from engine.run.recorder import Recorder
    from engine.run.sender import RunSettings, Sender
    from engine.run.storerecovery import UNCHECKED_NOTE

    server = FakeA2P()
    folder = tmp_path / f"run{SUFFIX}"

    def answered_after_the_file_went(request: Request) -> Any:
        body = request.json()
        for path in folder.iterdir():
            if meddle == "delete":
                path.unlink()
            else:
                path.write_bytes(path.read_bytes()[:-10])
        rejected = body["messages"].pop(1499)
        batch = server.make(body)
        return reply(201, {**batch, "rejected": [
            {"index": 1500, "to": rejected["to"], "errorCode": "CMN-100", "description": "x"}]})

    server.posts.append(answered_after_the_file_went)
    clock = FakeClock()
    config = settings(reconcile_window=5.0)
    client = ApiClient(config, CREDENTIALS, MockTransport(server), clock=clock,
                       sleep=clock.sleep, rng=random.Random(3), wall=clock)
    events: list[Any] = []

    async def emit(event: Any) -> None:
        events.append(event)

    recorder = Recorder(emit)
    with BodySpool(folder) as spool:
        chunker = Chunker(SENDER, "Hi", 10 * SLICE, sinks=spool.sink)
        sender = Sender(RunSettings(config, SENDER, "Hi", "reconcile"), client, chunker,
                        recorder, sleep=clock.sleep, clock=clock)
        (chunk,) = chunker.chunks(_blocks(3000))
        await sender.submit(chunk, recorder.record_for(chunk))
    record = recorder.records[1]
    assert (record.state, record.reason, record.batch_id, record.pending) == \
        (lifecycle.ACCEPTED, Reason.UNCHECKED, "b1", 1)
    assert len(server.batches) == 1  # sent once
    aggregator = recorder.aggregator
    assert (aggregator.rejected_server, aggregator.pending) == (0, 1)
    note = record.note or ""
    assert note.startswith(UNCHECKED_NOTE)
    assert "no batch was made" not in note


async def test_a_run_whose_body_file_went_after_its_201_ends_whole_with_the_store_s_rejection(
        tmp_path: Path) -> None:
    """The same from a list file, the whole run: it ends without an error, the batch sent
    once, and the recipient the answer rejected is named a server rejection once the
    batch's message store is read (the input read again), none left pending."""
    from engine.run.storerecovery import UNCHECKED_DESCRIPTION

    journal = tmp_path / "run.journal"
    folder = Path(f"{journal}{SUFFIX}")
    fake = FakeA2P()

    def answered_after_the_file_went(request: Request) -> Any:
        body = request.json()
        for path in folder.iterdir():
            path.unlink()
        rejected = body["messages"].pop(3)
        batch = fake.make(body)
        return reply(201, {**batch, "rejected": [
            {"index": 4, "to": rejected["to"], "errorCode": "CMN-100", "description": "x"}]})

    fake.posts.append(answered_after_the_file_went)
    numbers = [f"+1415555{k:04d}" for k in range(10)]
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(numbers) + "\n")
    report = await engine.send(str(listing), _options(MockTransport(fake), tmp_path / "r.json",
                                                      journal=str(journal)))
    assert len(fake.batches) == 1
    totals = report["totals"]
    assert (totals["sent"], totals["rejectedServer"], totals["pending"]) == (9, 1, 0)
    assert [(r["to"], r["description"]) for r in report["rejected"]] == [
        ("+14155550003", UNCHECKED_DESCRIPTION)]


async def test_a_body_file_gone_before_a_lost_answer_is_looked_for_reads_the_input_again(
        tmp_path: Path) -> None:
    """A 503 after the batch was made, and the body file gone meanwhile: the batch is looked
    for with the recipients read again from the input, and adopted, not an error saying
    nothing was sent; every recipient is in that one batch."""
    journal = tmp_path / "run.journal"
    folder = Path(f"{journal}{SUFFIX}")
    fake = FakeA2P()

    def made_then_503(request: Request) -> Any:
        for path in folder.iterdir():
            path.unlink()
        fake.make(request.json())
        return reply(503, {"errorCode": "CMN-503", "message": "unavailable"})

    fake.posts.append(made_then_503)
    numbers = [f"+1415555{k:04d}" for k in range(10)]
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(numbers) + "\n")
    report = await engine.send(str(listing), _options(MockTransport(fake), tmp_path / "r.json",
                                                      journal=str(journal)))
    assert len(fake.batches) == 1
    assert (report["totals"]["sent"], report["totals"]["adoptedChunks"]) == (10, 1)


async def test_a_body_file_gone_before_a_lost_answer_of_a_stream_leaves_it_unknown(
        tmp_path: Path) -> None:
    """The same when the input cannot be read again (recipients given as a list): the chunk
    is left unknown, never sent again, with a note saying its request went out, and the run
    ends with its report rather than an error saying nothing was sent."""
    fake = FakeA2P()

    def made_then_503(request: Request) -> Any:
        for folder in tmp_path.glob(f"*{SUFFIX}"):
            for path in folder.iterdir():
                path.unlink()
        fake.make(request.json())
        return reply(503, {"errorCode": "CMN-503", "message": "unavailable"})

    fake.posts.append(made_then_503)
    numbers = [f"+1415555{k:04d}" for k in range(10)]
    report = await engine.send(numbers, _options(MockTransport(fake), tmp_path / "r.json"))
    assert len(fake.batches) == 1
    assert (report["totals"]["sent"], report["totals"]["unknownChunks"]) == (0, 1)
    (batch,) = report["batches"]
    assert (batch["status"], batch["reason"]) == ("unknown", "not-rereadable")
    assert (batch["note"] or "").startswith("its request went out")


def test_a_body_left_half_written_is_closed_and_removed_when_its_sink_goes(
        tmp_path: Path) -> None:
    """A stop while a chunk is cut leaves its sink unsealed: when the sink goes, its file is
    closed (no unclosed-file warning, which the test suite turns into an error) and removed;
    a sealed body's file stays for its SpooledBody."""
    import gc
    import warnings

    from engine.run.bodyspool import FileSink

    half = FileSink(tmp_path / "half.body")
    half.write(b'{"from":"+16505550100","messages":[')
    sealed = FileSink(tmp_path / "whole.body")
    sealed.write(b"{}")
    body = sealed.seal()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        del half, sealed
        gc.collect()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["whole.body"]
    assert bytes(body) == b"{}"
