"""Batches on the simulator: create, reject per message, request errors, size limit, processing,
listings, messages, statuses and the ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import pytest

from engine.simulator import FaultSettings, RunningSimulator
from tests.conftest import SENDER, FakeClock, MakeSimulator, bearer, login
from tests.openapi import A2P, assert_valid

BATCHES = f"{A2P}/batches"


class Api:
    """A tiny client for these tests: raw JSON in, (status, body) out."""

    def __init__(self, http: aiohttp.ClientSession, url: str, token: dict[str, Any]) -> None:
        self.http = http
        self.base = url + A2P.replace("{accountId}", "~")
        self.headers = bearer(token)

    async def post(self, body: bytes | dict[str, Any], path: str = "/batches"
                   ) -> tuple[int, Any]:
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        headers = {**self.headers, "Content-Type": "application/json"}
        async with self.http.post(self.base + path, data=data, headers=headers) as response:
            return response.status, await response.json(content_type=None)

    async def get(self, path: str, **params: Any) -> tuple[int, Any]:
        async with self.http.get(self.base + path, params=params,
                                 headers=self.headers) as response:
            return response.status, await response.json(content_type=None)


@pytest.fixture
async def api(simulator: RunningSimulator, http: aiohttp.ClientSession) -> Api:
    return Api(http, simulator.url, await login(http, simulator.url))


BROADCAST = {"from": SENDER, "text": "Hello Team",
             "messages": [{"to": ["+14155550100"]}, {"to": ["+12125550100"]}]}


async def test_broadcast_batch_is_created(api: Api) -> None:
    """The guide's broadcast sample is accepted: 201, Processing, batchSize 2, no rejections."""
    status, body = await api.post(BROADCAST)
    assert status == 201
    assert_valid(body, BATCHES, "post", 201)
    assert body["status"] == "Processing"
    assert (body["batchSize"], body["processedCount"], body["rejected"]) == (2, 0, [])


async def test_legacy_batch_path_is_an_alias(api: Api) -> None:
    """The 2020 guide's POST .../a2p-sms/batch creates a batch too."""
    status, body = await api.post(BROADCAST, "/batch")
    assert (status, body["batchSize"]) == (201, 2)


async def test_per_message_problems_are_rejected_by_1_based_index(api: Api) -> None:
    """Each bad message is listed in rejected with its 1-based index; the others are accepted."""
    messages = [
        {"to": ["+14155550100"]},
        {"to": ["+4088070206"]},                      # the guide's invalid example
        {"to": ["+442071838750"]},                    # valid E.164, not North American
        {"to": ["+14155550101", "+14155550102"]},     # more than one recipient
        {"to": ["+14155550103"], "text": "x" * 1001},  # over 1000 characters
        {"to": ["+14155550104"], "text": "ok"},
    ]
    status, body = await api.post({"from": SENDER, "text": "hi", "messages": messages})
    assert status == 201
    assert_valid(body, BATCHES, "post", 201)
    assert body["batchSize"] == 2
    codes = {r["index"]: r["errorCode"] for r in body["rejected"]}
    assert codes == {2: "SMS-RC-410", 3: "SMS-RC-410", 4: "CMN-101", 5: "SMS-RC-413"}
    assert body["rejected"][0]["to"] == ["+4088070206"]


async def test_message_without_any_text_is_rejected(api: Api) -> None:
    """With no batch text, a message without its own text is rejected, not the batch."""
    body = {"from": SENDER, "messages": [{"to": ["+14155550100"], "text": "Hello Alice"},
                                         {"to": ["+12125550100"]}]}
    status, answer = await api.post(body)
    assert status == 201
    assert [(r["index"], r["errorCode"]) for r in answer["rejected"]] == [(2, "CMN-100")]


@pytest.mark.parametrize(
    ("body", "code", "parameter"),
    [
        (b'{"from": "+16505550100", "messages": [', "CMN-104", None),
        (b"[1, 2]", "CMN-104", None),
        (orjson.dumps({"text": "x", "messages": [{"to": ["+14155550100"]}]}), "CMN-101", "from"),
        (orjson.dumps({"from": "+16505559999", "text": "x",
                       "messages": [{"to": ["+14155550100"]}]}), "CMN-101", "from"),
        (orjson.dumps({"from": SENDER, "text": "x", "messages": []}), "CMN-101", "messages"),
    ],
    ids=["unparsable", "not-an-object", "no-from", "unknown-from", "empty-messages"],
)
async def test_request_level_problems_are_400(api: Api, body: bytes, code: str,
                                              parameter: str | None) -> None:
    """Unparsable JSON, a missing or foreign sender and empty messages fail the whole request."""
    status, answer = await api.post(body)
    assert status == 400
    assert_valid(answer, BATCHES, "post", 400)
    assert answer["errorCode"] == code
    assert answer["errors"][0].get("parameterName") == parameter


def body_of_size(size: int) -> bytes:
    """A valid one-message body of exactly ``size`` bytes (JSON whitespace as padding)."""
    body = orjson.dumps({"from": SENDER, "text": "x", "messages": [{"to": ["+14155550100"]}]})
    return body[:-1] + b" " * (size - len(body)) + b"}"


async def test_size_limit_is_exact(make_simulator: MakeSimulator,
                                   http: aiohttp.ClientSession) -> None:
    """A body exactly at the limit is accepted; one byte more gets 413 AGW-413."""
    running = await make_simulator(max_body_bytes=2048)
    api = Api(http, running.url, await login(http, running.url))
    at_limit = body_of_size(2048)
    assert len(at_limit) == 2048
    assert (await api.post(at_limit))[0] == 201
    status, answer = await api.post(body_of_size(2049))
    assert (status, answer["errorCode"]) == (413, "AGW-413")
    assert running.simulator.store.accepted_count() == 1


async def test_a_body_limit_fault_answers_413_above_it_and_heals(
        make_simulator: MakeSimulator, http: aiohttp.ClientSession) -> None:
    """The body_limit fault mode: a body over it gets 413 AGW-413 and creates nothing; one at
    it is accepted; with the fault off the larger one is accepted too."""
    running = await make_simulator(faults=FaultSettings(body_limit=2048))
    api = Api(http, running.url, await login(http, running.url))
    assert (await api.post(body_of_size(2048)))[0] == 201
    status, answer = await api.post(body_of_size(2049))
    assert (status, answer["errorCode"]) == (413, "AGW-413")
    assert running.simulator.store.accepted_count() == 1
    running.simulator.faults = FaultSettings()
    assert (await api.post(body_of_size(2049)))[0] == 201


async def test_batch_completes_with_cost_by_segments(api: Api, clock: FakeClock) -> None:
    """A batch advances at the configured rate and completes with segments x price as cost."""
    messages = [{"to": ["+14155550100"], "text": "x" * 161},   # GSM-7, 2 segments
                {"to": ["+14155550101"], "text": "Привет"},    # UCS-2, 1 segment
                {"to": ["+14155550102"]}]                      # batch text, 1 segment
    _, created = await api.post({"from": SENDER, "text": "Hi", "messages": messages})
    _, reading = await api.get(f"/batches/{created['id']}")
    assert_valid(reading, f"{BATCHES}/{{batchId}}", "get", 200)
    assert reading["status"] == "Processing"
    assert "cost" not in reading
    clock.advance(3 / 100)  # 100 messages per second in tests
    _, done = await api.get(f"/batches/{created['id']}")
    assert (done["status"], done["processedCount"], done["rejected"]) == ("Completed", 3, [])
    assert done["cost"] == pytest.approx(4 * 0.007)


async def test_reading_a_batch_never_returns_rejected(api: Api) -> None:
    """As the guide says, GET batch returns an empty rejected array even when POST had some."""
    body = {"from": SENDER, "text": "x", "messages": [{"to": ["+1"]}, {"to": ["+14155550100"]}]}
    _, created = await api.post(body)
    assert len(created["rejected"]) == 1
    _, reading = await api.get(f"/batches/{created['id']}")
    assert reading["rejected"] == []


async def test_unknown_batch_is_404(api: Api) -> None:
    """Reading a batch id that does not exist gets 404 CMN-102."""
    status, body = await api.get("/batches/no-such-batch")
    assert status == 404
    assert_valid(body, f"{BATCHES}/{{batchId}}", "get", 404)


async def test_batch_listing_filters_and_pages(api: Api, clock: FakeClock) -> None:
    """Listing honours from, status and dateFrom, and pages with nextPageToken."""
    start = clock.now
    ids = []
    for _ in range(5):
        ids.append((await api.post(BROADCAST))[1]["id"])
        clock.advance(10)
    await api.post({**BROADCAST, "from": "+16505550101"})
    seen: list[str] = []
    params: dict[str, Any] = {"from": SENDER, "perPage": 2}
    while True:
        status, page = await api.get("/batches", **params)
        assert status == 200
        assert_valid(page, BATCHES, "get", 200)
        seen += [record["id"] for record in page["records"]]
        if "nextPageToken" not in page["paging"]:
            break
        params["pageToken"] = page["paging"]["nextPageToken"]
    assert seen == ids
    _, completed = await api.get("/batches", status="Completed", **{"from": SENDER})
    assert [r["id"] for r in completed["records"]] == ids
    _, processing = await api.get("/batches", status="Processing")
    assert len(processing["records"]) == 1
    since = datetime.fromtimestamp(start + 40, UTC).isoformat()
    _, recent = await api.get("/batches", dateFrom=since, **{"from": SENDER})
    assert [r["id"] for r in recent["records"]] == ids[4:]


async def test_bad_listing_parameters_are_400(api: Api) -> None:
    """perPage over 1000 or a malformed date gets 400 CMN-101 naming the parameter."""
    for params in ({"perPage": 1001}, {"dateFrom": "yesterday"}):
        status, body = await api.get("/batches", **params)
        assert status == 400
        assert_valid(body, BATCHES, "get", 400)


async def test_messages_statuses_and_message_by_id(api: Api, clock: FakeClock) -> None:
    """Messages page by batchId, read by id, and statuses count them with error codes."""
    messages = [{"to": [f"+1415555{i:04d}"]} for i in range(250)]
    _, created = await api.post({"from": SENDER, "text": "Hi", "messages": messages})
    clock.advance(250 / 100)
    records: list[dict[str, Any]] = []
    token = None
    while True:
        params = {"batchId": created["id"], "perPage": 100}
        params |= {"pageToken": token} if token else {}
        _, page = await api.get("/messages", **params)
        assert_valid(page, f"{A2P}/messages", "get", 200)
        records += page["records"]
        token = page["paging"].get("nextPageToken")
        if token is None:
            break
    assert [r["to"][0] for r in records] == [m["to"][0] for m in messages]
    failed = [r for r in records if r["messageStatus"] != "Delivered"]
    assert len(failed) == 5  # 2% of 250
    status, one = await api.get(f"/messages/{records[7]['id']}")
    assert status == 200
    assert_valid(one, f"{A2P}/messages/{{messageId}}", "get", 200)
    assert (one["text"], one["batchId"]) == ("Hi", created["id"])
    _, counts = await api.get("/statuses", batchId=created["id"])
    assert_valid(counts, f"{A2P}/statuses", "get", 200)
    assert counts["delivered"]["count"] == 245
    failed_total = counts["deliveryFailed"]["count"] + counts["sendingFailed"]["count"]
    assert failed_total == 5
    codes = {**counts["deliveryFailed"]["errorCodeCounts"],
             **counts["sendingFailed"]["errorCodeCounts"]}
    assert sum(codes.values()) == 5
    assert counts["delivered"]["cost"] == pytest.approx(245 * 0.007)


async def test_unprocessed_messages_are_queued(api: Api) -> None:
    """Before processing, every message is Queued in listings and statuses."""
    _, created = await api.post(BROADCAST)
    _, counts = await api.get("/statuses", batchId=created["id"])
    assert counts["queued"]["count"] == 2
    _, page = await api.get("/messages", batchId=created["id"])
    assert {r["messageStatus"] for r in page["records"]} == {"Queued"}


async def test_ledger_records_every_accepted_message(api: Api, simulator: RunningSimulator,
                                                     http: aiohttp.ClientSession) -> None:
    """The ledger lists each accepted message with batch id, request index, to and text."""
    body = {"from": SENDER, "text": "Hello", "messages": [
        {"to": ["+14155550100"]}, {"to": ["bad"]}, {"to": ["+12125550100"], "text": "Bob"}]}
    _, created = await api.post(body)
    expected = [[created["id"], 1, "+14155550100", "Hello"],
                [created["id"], 3, "+12125550100", "Bob"]]
    assert [list(e) for e in simulator.simulator.store.ledger()] == expected
    async with http.get(f"{simulator.url}/_sim/ledger") as response:
        assert await response.json() == {"count": 2, "entries": expected}


async def test_unknown_account_is_404(simulator: RunningSimulator,
                                      http: aiohttp.ClientSession) -> None:
    """Only ~ and the simulated account id are served."""
    token = await login(http, simulator.url)
    url = f"{simulator.url}/restapi/v1.0/account/123/a2p-sms/batches"
    async with http.get(url, headers=bearer(token)) as response:
        assert response.status == 404
