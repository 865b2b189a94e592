"""The aiohttp adapter maps transport failures to the engine's classes (aioresponses) and
reads whole answers, however many network reads they take (a real server on loopback)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
from aiohttp import web
from aioresponses import aioresponses

from engine.errors import AmbiguousSendError, BadBodyError, NotSentError
from engine.rc.transport import MAX_ANSWER_BYTES, AiohttpTransport, Reply, page_of

URL = "https://platform.ringcentral.com/restapi/v1.0/account/~/a2p-sms/batches"


async def post(transport: AiohttpTransport) -> int:
    reply = await transport.request("POST", URL, headers={}, body=b"{}")
    return reply.status


@pytest.mark.parametrize(
    ("error", "expected"),
    [(aiohttp.ClientConnectorError(aiohttp.client_reqrep.ConnectionKey(
        "h", 443, True, True, None, None, None), OSError(111, "refused")), NotSentError),
     (aiohttp.ServerDisconnectedError(), AmbiguousSendError),
     (TimeoutError(), AmbiguousSendError)],
    ids=["refused", "disconnected", "timeout"],
)
async def test_failures_are_classified(error: Exception, expected: type[Exception]) -> None:
    """Refused means not sent; a disconnect or timeout after sending is ambiguous."""
    transport = AiohttpTransport(5.0)
    try:
        with aioresponses() as mocked:
            mocked.post(URL, exception=error)
            with pytest.raises(expected):
                await post(transport)
    finally:
        await transport.close()


# Whole answers, against a real server on loopback that writes in small pieces with pauses ----

PIECE = 8 * 1024
ANSWER = web.AppKey("answer", bytes)
STATUS = web.AppKey("status", int)
DECLARE = web.AppKey("declare", bool)


async def _dribble(request: web.Request) -> web.StreamResponse:
    """Writes the answer the test put on the app in 8 KB pieces, pausing between them, the
    way a large answer arrives over a real network (many reads, not one)."""
    body: bytes = request.app[ANSWER]
    response = web.StreamResponse(status=request.app[STATUS])
    response.content_type = "application/json"
    if request.app[DECLARE]:
        response.content_length = len(body)
    await response.prepare(request)
    for start in range(0, len(body), PIECE):
        await response.write(body[start:start + PIECE])
        await asyncio.sleep(0.0005)
    await response.write_eof()
    return response


@contextlib.asynccontextmanager
async def dribbling(body: bytes, status: int = 200, declare: bool = False
                    ) -> AsyncIterator[str]:
    app = web.Application()
    app[ANSWER], app[STATUS], app[DECLARE] = body, status, declare
    app.router.add_route("*", "/{tail:.*}", _dribble)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.base_events.Server)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        await runner.cleanup()


async def fetch(body: bytes, status: int = 200, declare: bool = False,
                cap: int = MAX_ANSWER_BYTES) -> Reply:
    transport = AiohttpTransport(30.0, max_answer=cap)
    try:
        async with dribbling(body, status, declare) as url:
            return await transport.request("GET", url + "/x", headers={})
    finally:
        await transport.close()


async def test_a_201_with_20000_rejections_is_read_whole() -> None:
    """A 201 carrying 20,000 server rejections (about 2 MB, hundreds of reads) parses whole."""
    rejected = [{"index": i, "to": [f"+4420{i:08d}"], "errorCode": "SMS-RC-410",
                 "description": "The recipient number is invalid"} for i in range(1, 20_001)]
    body = orjson.dumps({"id": "b1", "batchSize": 80_000, "rejected": rejected})
    assert len(body) > 100 * PIECE
    reply = await fetch(body, 201)
    assert reply.status == 201
    assert reply.body == body
    assert len(reply.json()["rejected"]) == 20_000


async def test_a_page_of_1000_detailed_messages_is_read_whole() -> None:
    """GET .../messages?view=Detailed with 1,000 records (about 300 KB) gives all 1,000."""
    records = [{"id": i, "batchId": "b1", "from": "+16505550100", "to": [f"+1415{i:07d}"],
                "text": "Your order has shipped; track it at https://example.com/t/" + "x" * 80,
                "messageStatus": "Delivered", "creationTime": "2026-11-25T12:00:00.000000Z",
                "lastModifiedTime": "2026-11-25T12:00:01.000000Z", "segmentCount": 1,
                "cost": 0.007, "direction": "Outbound"} for i in range(1000)]
    body = orjson.dumps({"records": records, "paging": {"perPage": 1000,
                                                        "nextPageToken": "1000"}})
    assert len(body) > 250_000
    page, token = page_of((await fetch(body, declare=True)).json())
    assert (len(page), token) == (1000, "1000")


async def test_a_listing_of_1000_batches_is_read_whole() -> None:
    """GET .../batches with 1,000 open batches on one page gives all 1,000."""
    records = [{"id": f"{i:08d}-0000-4000-8000-000000000000", "from": "+16505550100",
                "batchSize": 1000 + i, "processedCount": i, "status": "Processing",
                "creationTime": "2026-11-25T12:00:00.000000Z",
                "lastModifiedTime": "2026-11-25T12:00:01.000000Z", "rejected": []}
               for i in range(1000)]
    body = orjson.dumps({"records": records, "paging": {"perPage": 1000}})
    page, token = page_of((await fetch(body)).json())
    assert (len(page), token) == (1000, None)


@pytest.mark.parametrize("declare", [False, True], ids=["chunked", "content-length"])
async def test_an_answer_one_byte_over_the_cap_is_refused(declare: bool) -> None:
    """One byte more than the cap is refused (at once when Content-Length says so); exactly
    the cap is read."""
    cap = 300_000
    assert (await fetch(b"x" * cap, cap=cap, declare=declare)).body == b"x" * cap
    with pytest.raises(BadBodyError, match="refusing to read") as info:
        await fetch(b"x" * (cap + 1), 201, cap=cap, declare=declare)
    assert info.value.status == 201
    assert ("Content-Length" in str(info.value)) is declare
