"""Hostile or broken answers: a clear error for that chunk, never a crash, never a wrong
position in the report, never a resend of something the server may have created."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import orjson
import pytest
from aiohttp import web

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.config.settings import PollSettings
from engine.rc.transport import MAX_ANSWER_BYTES
from tests.e2e.conftest import SENDER, engine_settings
from tests.fakes import NO_CONSENTS

A2P = "/restapi/v1.0/account/~/a2p-sms"
TOKEN = {"access_token": "t", "token_type": "bearer", "expires_in": 3600, "refresh_token": "r",
         "refresh_token_expires_in": 86400, "scope": "A2PSMS", "session_id": "s"}
GOOD = {"id": "b1", "from": SENDER, "batchSize": 2, "processedCount": 0, "status": "Processing",
        "creationTime": "2026-11-22T00:00:00Z", "rejected": []}
PHONE_NUMBERS = "/restapi/v1.0/account/~/extension/~/phone-number"
NUMBERS = {"records": [{"id": 1, "phoneNumber": SENDER, "features": ["A2PSmsSender"]}],
           "navigation": {}, "paging": {"page": 1, "totalPages": 1, "perPage": 1000}}


def json(body: Any, status: int = 201) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


HOSTILE: dict[str, Callable[[], web.Response]] = {
    "not-json": lambda: web.Response(body=b"<html>oops</html>", status=201),
    "huge": lambda: web.Response(body=b" " * (MAX_ANSWER_BYTES + 10), status=201),
    "wrong-types": lambda: json({**GOOD, "id": 7, "batchSize": "2"}),
    "index-out-of-range": lambda: json({**GOOD, "rejected": [{"index": 3, "to": ["+1"]}]}),
    "index-repeated": lambda: json({**GOOD, "rejected": [{"index": 1}, {"index": 1}]}),
    "index-zero": lambda: json({**GOOD, "rejected": [{"index": 0}]}),
    "missing-fields": lambda: json({}),
    "a-list": lambda: json([1, 2, 3]),
}


@pytest.fixture
async def hostile() -> AsyncIterator[Callable[..., Any]]:
    runners: list[web.AppRunner] = []

    async def start(post: Callable[[], web.Response],
                    get: Callable[[], web.Response] | None = None) -> str:
        async def token(request: web.Request) -> web.Response:
            return json(TOKEN, 200)

        async def create(request: web.Request) -> web.Response:
            await request.read()
            return post()

        async def read(request: web.Request) -> web.Response:
            return (get or (lambda: json({"records": [], "paging": {"perPage": 1}}, 200)))()

        async def numbers(request: web.Request) -> web.Response:
            return json(NUMBERS, 200)

        async def consents(request: web.Request) -> web.Response:
            return web.Response(body=NO_CONSENTS.body, content_type="text/csv")

        app = web.Application()
        app.router.add_get(PHONE_NUMBERS, numbers)  # the pre-flight passes; no sms-configuration
        app.router.add_get("/restapi/v2/accounts/~/sms/consents/export", consents)  # nobody
        app.router.add_post("/restapi/oauth/token", token)
        app.router.add_post("/restapi/oauth/revoke", token)
        app.router.add_post(f"{A2P}/batches", create)
        app.router.add_get(f"{A2P}/batches", read)
        app.router.add_get(f"{A2P}/batches/{{id}}", read)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.mark.parametrize("mode", sorted(HOSTILE))
async def test_hostile_batch_answers_are_reconciled_never_trusted(hostile: Any, mode: str
                                                                  ) -> None:
    """A 201 that cannot be trusted says nothing sure about what was created: the chunk's
    batch is looked for after each, and sent again only once the (empty) listing proved it
    absent, until the attempts run out: failed proved-absent with its range, the BAD-ANSWER
    kept, and the report holds only the local rejection at its true position."""
    url = await hostile(HOSTILE[mode])
    settings = engine_settings(url)
    settings = replace(settings, retry=replace(settings.retry, max_attempts=3))
    report = await engine.send(["+14155550100", "bad", "+14155550101"], sender=SENDER,
                               text="Hi", config=settings,
                               credentials=DEMO_CREDENTIALS, wait="accepted")
    batch = report["batches"][0]
    assert (batch["status"], batch["firstIndex"], batch["lastIndex"]) == ("failed", 0, 2)
    assert (batch["reason"], batch["attempts"]) == ("proved-absent", 3)
    assert (batch["error"] or {})["errorCode"] == "BAD-ANSWER"
    assert [(r["index"], r["source"]) for r in report["rejected"]] == [(1, "local")]
    assert report["status"] == "failed"


@pytest.mark.parametrize("answer", [[1, 2], {"records": "x"},
                                    {"id": "b1", "status": "Completed", "cost": "free"}],
                         ids=["list", "records-not-list", "cost-not-number"])
async def test_hostile_tracking_answers_never_crash(hostile: Any, answer: Any) -> None:
    """Broken listings or batch reads are noted on the batch; the run ends by its timeout."""
    url = await hostile(lambda: json(GOOD), lambda: json(answer, 200))
    settings = replace(engine_settings(url), polling=PollSettings(0.01, 0.05, 0.5))
    report = await engine.send(["+14155550100", "+14155550101"], sender=SENDER, text="Hi",
                               config=settings, credentials=DEMO_CREDENTIALS)
    batch = report["batches"][0]
    assert batch["batchId"] == "b1"
    assert batch["status"] in ("accepted", "completed")
    assert report["totals"]["cost"] is None


REPEATING = {"records": [], "paging": {"perPage": 1000, "nextPageToken": "again"}}


async def test_a_listing_repeating_its_page_token_leaves_the_chunk_unknown(hostile: Any) -> None:
    """A lost answer, then a listing that repeats its page token: the chunk ends unknown with
    the reason, sent once, instead of the run hanging."""
    import anyio

    url = await hostile(lambda: json({"message": "oops"}, 500), lambda: json(REPEATING, 200))
    with anyio.fail_after(60):  # a guard against the hang, not a timing assert
        report = await engine.send(["+14155550100"], sender=SENDER, text="Hi",
                                   config=engine_settings(url), credentials=DEMO_CREDENTIALS,
                                   wait="accepted")
    batch = report["batches"][0]
    assert (batch["status"], batch["attempts"]) == ("unknown", 1)
    assert "a second time" in (batch["note"] or "")


async def test_listing_batches_from_a_server_repeating_its_token_raises(hostile: Any) -> None:
    """ApiClient.batches stops with PagingError when the server repeats its page token."""
    import random

    import anyio

    from engine.errors import PagingError
    from engine.rc.client import ApiClient
    from engine.rc.transport import AiohttpTransport

    url = await hostile(lambda: json({}, 500), lambda: json(REPEATING, 200))
    transport = AiohttpTransport(10.0)
    client = ApiClient(engine_settings(url), DEMO_CREDENTIALS, transport,
                       clock=anyio.current_time, sleep=anyio.sleep, rng=random.Random(1))
    try:
        with anyio.fail_after(60), pytest.raises(PagingError, match="a second time"):
            _ = [batch async for batch in client.batches({"from": SENDER})]
    finally:
        await transport.close()
