"""Consent on the simulator: the v2 consents API (search, listing, export, PATCH) and the v1
opt-outs, served from one store and shaped by the official spec subsets."""

from __future__ import annotations

import csv
import io
from typing import Any

import aiohttp
import orjson
import pytest
from multidict import CIMultiDict

from engine.config.table import Table
from engine.errors import ConfigError
from engine.simulator import RunningSimulator
from engine.simulator.consents import OPT_OUT, ConsentStore
from engine.simulator.settings import ConsentSettings, parse_simulator_table
from tests.conftest import SENDER, MakeSimulator, bearer, login, sim_settings
from tests.openapi import A2P, PREFLIGHT_SPEC, assert_valid

CONSENTS = "/restapi/v2/accounts/{accountId}/sms/consents"
SEARCH = f"{CONSENTS}/search"
OPT_OUTS = f"{A2P}/opt-outs"
BULK = f"{OPT_OUTS}/bulk-assign"
OTHER_SENDER = "+16505550101"
EXPORT_COLUMNS = ["External Party Number", "Internal Party Number", "Consent Status", "Source",
                  "Coverage", "Campaign Type", "Notes", "Last Modified Time"]


class Client:
    """Raw calls for these tests: (status, headers, body) out, the body parsed when JSON."""

    def __init__(self, http: aiohttp.ClientSession, url: str, token: dict[str, Any]) -> None:
        self.http = http
        self.url = url
        self.headers = bearer(token)

    async def call(self, method: str, path: str, body: Any = None,
                   headers: dict[str, str] | None = None,
                   params: dict[str, Any] | None = None) -> tuple[int, CIMultiDict[str], Any]:
        data = None if body is None else orjson.dumps(body)
        sent = {**self.headers, "Content-Type": "application/json", **(headers or {})}
        url = self.url + path.replace("{accountId}", "~")
        async with self.http.request(method, url, data=data, headers=sent,
                                     params=params) as response:
            raw = await response.read()
            parsed: Any = raw.decode()
            if response.content_type == "application/json":
                parsed = orjson.loads(raw)
            return response.status, CIMultiDict(response.headers), parsed

    async def search(self, **body: Any) -> tuple[int, CIMultiDict[str], Any]:
        return await self.call("POST", SEARCH, body)

    async def patch(self, records: list[dict[str, Any]]) -> tuple[int, CIMultiDict[str], Any]:
        return await self.call("PATCH", CONSENTS, {"records": records})


async def client_for(running: RunningSimulator, http: aiohttp.ClientSession) -> Client:
    return Client(http, running.url, await login(http, running.url))


SEEDED = ConsentSettings(seed=7, opted_out=2_500, opted_in=300, pool_size=50_000,
                         elsewhere_share=0.2)


async def read_all(client: Client, per_page: int, **filters: Any
                   ) -> tuple[list[dict[str, Any]], set[str]]:
    """Every page of a search, each checked against the spec; the ETags seen."""
    records: list[dict[str, Any]] = []
    tags: set[str] = set()
    token = None
    for _ in range(100):
        body = {**filters, "perPage": per_page, **({"pageToken": token} if token else {})}
        status, headers, page = await client.search(**body)
        assert status == 200
        assert_valid(page, SEARCH, "post", 200, PREFLIGHT_SPEC)
        tags.add(headers["ETag"])
        records += page["records"]
        token = page["paging"].get("nextPageToken")
        if token is None:
            return records, tags
    raise AssertionError("the search never reached its last page")


async def test_search_pages_cover_every_record_exactly_once(
        make_simulator: MakeSimulator, http: aiohttp.ClientSession) -> None:
    """Paging the opt-outs 1,000 at a time gives each seeded opt-out once, under one ETag."""
    running = await make_simulator(consents=SEEDED)
    client = await client_for(running, http)
    records, tags = await read_all(client, 1000, optStatus="OptOut")
    pairs = [(r["from"], r["to"]) for r in records]
    assert len(pairs) == len(set(pairs)) == 2_500
    assert {r["optStatus"] for r in records} == {"OptOut"}
    assert len(tags) == 1
    everything, _ = await read_all(client, 333)
    assert len({(r["from"], r["to"]) for r in everything}) == len(everything) == 2_800


async def test_search_filters_and_page_size(make_simulator: MakeSimulator,
                                            http: aiohttp.ClientSession) -> None:
    """from/to/optStatus filter; perPage over 1,000 gets 1,000; opt-outs to other numbers."""
    running = await make_simulator(consents=SEEDED)
    client = await client_for(running, http)
    _, _, big = await client.search(perPage=5000)
    assert big["paging"]["perPage"] == 1000
    assert len(big["records"]) == 1000
    elsewhere, _ = await read_all(client, 1000, optStatus="OptOut", **{"from": [OTHER_SENDER]})
    assert elsewhere
    assert {r["from"] for r in elsewhere} == {OTHER_SENDER}
    one = elsewhere[0]["to"]
    status, _, page = await client.search(to=[one])
    assert status == 200
    assert [r["to"] for r in page["records"]] == [one]
    opted_in, _ = await read_all(client, 1000, optStatus="OptIn")
    assert len(opted_in) == 300


@pytest.mark.parametrize(("body", "parameter"), [
    ({"from": [f"+1650555{i:04d}" for i in range(21)]}, "from"),
    ({"to": ["16505550100"]}, "to"),
    ({"optStatus": "Unsubscribed"}, "optStatus"),
    ({"perPage": 0}, "perPage"),
    ({"pageToken": "not-a-token"}, "pageToken"),
    ({"coverage": []}, "coverage"),
], ids=["21-senders", "not-e164", "bad-status", "per-page-0", "bad-token", "empty-coverage"])
async def test_search_refuses_what_the_spec_does_not_allow(
        simulator: RunningSimulator, http: aiohttp.ClientSession, body: dict[str, Any],
        parameter: str) -> None:
    """A filter the schema forbids is a 400 naming it, in the spec's InvalidRequest shape."""
    client = await client_for(simulator, http)
    status, _, answer = await client.search(**body)
    assert status == 400
    assert_valid(answer, SEARCH, "post", 400, PREFLIGHT_SPEC)
    assert answer["errors"][0]["parameterName"] == parameter


async def test_etag_moves_with_every_change_and_only_then(
        simulator: RunningSimulator, http: aiohttp.ClientSession) -> None:
    """The same records give the same ETag; a PATCH gives a new one, which the next read shows."""
    client = await client_for(simulator, http)
    _, first, _ = await client.search()
    _, again, _ = await client.search()
    assert first["ETag"] == again["ETag"]
    status, patched, body = await client.patch([{"from": SENDER, "to": "+14155550100",
                                                 "optStatus": "OptOut", "source": "Api"}])
    assert (status, body) == (200, {})
    assert_valid(body, CONSENTS, "patch", 200, PREFLIGHT_SPEC)
    assert patched["ETag"] != first["ETag"]
    _, after, page = await client.search()
    assert after["ETag"] == patched["ETag"]
    assert [(r["from"], r["to"], r["source"]) for r in page["records"]] == [
        (SENDER, "+14155550100", "Api")]


async def test_a_record_made_while_paging_is_read_once_under_a_new_etag(
        make_simulator: MakeSimulator, http: aiohttp.ClientSession) -> None:
    """An opt-out made between two pages comes on a later page, once, and the ETag moves."""
    running = await make_simulator(consents=ConsentSettings(seed=1, opted_out=250,
                                                            pool_size=10_000))
    client = await client_for(running, http)
    _, first_headers, first = await client.search(perPage=100)
    await client.patch([{"from": SENDER, "to": "+14155550100", "optStatus": "OptOut",
                         "source": "Api"}])
    seen = [r["to"] for r in first["records"]]
    token = first["paging"]["nextPageToken"]
    tags: set[str] = set()
    for _ in range(10):
        _, headers, page = await client.search(perPage=100, pageToken=token)
        tags.add(headers["ETag"])
        seen += [r["to"] for r in page["records"]]
        token = page["paging"].get("nextPageToken")
        if token is None:
            break
    assert token is None
    assert len(seen) == len(set(seen)) == 251
    assert "+14155550100" in seen
    assert len(tags) == 1
    assert first_headers["ETag"] not in tags


async def test_export_is_csv_with_the_spec_columns(make_simulator: MakeSimulator,
                                                   http: aiohttp.ClientSession) -> None:
    """The export holds every record under the spec's 8 columns; a matching If-None-Match: 304."""
    running = await make_simulator(consents=SEEDED)
    client = await client_for(running, http)
    status, headers, text = await client.call("GET", f"{CONSENTS}/export")
    assert status == 200
    assert headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == EXPORT_COLUMNS
    assert len(rows) == 1 + 2_800
    everything, _ = await read_all(client, 1000)
    assert {(r[1], r[0], r[2]) for r in rows[1:]} == {
        (r["from"], r["to"], r["optStatus"]) for r in everything}
    status, _, _ = await client.call("GET", f"{CONSENTS}/export",
                                     headers={"If-None-Match": headers["ETag"]})
    assert status == 304


async def test_patch_reports_the_records_it_cannot_take(
        simulator: RunningSimulator, http: aiohttp.ClientSession) -> None:
    """A foreign sender or an own number comes back in failedRecords; the rest is applied,
    and "*" opts the recipient out of every number of the account."""
    client = await client_for(simulator, http)
    records = [
        {"from": SENDER, "to": "+14155550100", "optStatus": "OptOut", "source": "Api"},
        {"from": "+19995550100", "to": "+14155550101", "optStatus": "OptOut", "source": "Api"},
        {"from": SENDER, "to": OTHER_SENDER, "optStatus": "OptOut", "source": "Api"},
        {"from": "*", "to": "+14155550102", "optStatus": "OptOut", "source": "Api"},
    ]
    status, _, body = await client.patch(records)
    assert status == 200
    assert_valid(body, CONSENTS, "patch", 200, PREFLIGHT_SPEC)
    failed = {(f["from"], f["to"]): f["error"]["errorCode"] for f in body["failedRecords"]}
    assert failed == {("+19995550100", "+14155550101"): "CMN-102",
                      (SENDER, OTHER_SENDER): "CMN-101"}
    _, _, page = await client.search()
    pairs = {(r["from"], r["to"]) for r in page["records"]}
    account = (*simulator.simulator.settings.senders, *simulator.simulator.settings.other_numbers)
    assert pairs == {(SENDER, "+14155550100")} | {(n, "+14155550102") for n in account}


@pytest.mark.parametrize(("records", "parameter"), [
    ([], "records"),
    ([{"from": SENDER, "to": f"+1415{2_000_000 + i:07d}", "optStatus": "OptOut",
       "source": "Api"} for i in range(1001)], "records"),
    ([{"from": SENDER, "to": "+14155550100", "optStatus": "OptOut"}], "records[0].source"),
    ([{"from": SENDER, "to": "4155550100", "optStatus": "OptOut", "source": "Api"}],
     "records[0].to"),
], ids=["none", "1001", "no-source", "not-e164"])
async def test_patch_refuses_a_request_the_schema_forbids(
        simulator: RunningSimulator, http: aiohttp.ClientSession, records: list[Any],
        parameter: str) -> None:
    """No records, more than 1,000, or a record the schema forbids: 400, nothing applied."""
    client = await client_for(simulator, http)
    status, _, body = await client.patch(records)
    assert status == 400
    assert_valid(body, CONSENTS, "patch", 400, PREFLIGHT_SPEC)
    assert body["errors"][0]["parameterName"] == parameter
    assert len(simulator.simulator.store.consents) == 0


async def test_deprecated_listing_defaults_to_opt_outs(
        make_simulator: MakeSimulator, http: aiohttp.ClientSession) -> None:
    """GET .../sms/consents lists OptOut records unless asked, with an ETag, as the spec says."""
    running = await make_simulator(consents=SEEDED)
    client = await client_for(running, http)
    status, headers, page = await client.call("GET", CONSENTS, params={"perPage": 1000})
    assert status == 200
    assert_valid(page, CONSENTS, "get", 200, PREFLIGHT_SPEC)
    assert {r["optStatus"] for r in page["records"]} == {OPT_OUT}
    assert "ETag" in headers
    _, _, opted_in = await client.call("GET", CONSENTS,
                                      params={"optStatus": "OptIn", "perPage": 1000})
    assert len(opted_in["records"]) == 300
    status, _, refused = await client.call("GET", CONSENTS, params={"perPage": "9" * 5000})
    assert status == 400
    assert_valid(refused, CONSENTS, "get", 400, PREFLIGHT_SPEC)


async def test_v1_opt_outs_share_the_v2_store(simulator: RunningSimulator,
                                              http: aiohttp.ClientSession) -> None:
    """bulk-assign opts numbers out (and in) as v2 shows; the v1 listing matches the a2p spec."""
    client = await client_for(simulator, http)
    body = {"from": SENDER, "optOuts": ["+14155550100", "+14155550101", "bad"],
            "optIns": ["+14155550102"]}
    status, _, answer = await client.call("POST", BULK, body)
    assert status == 200
    assert_valid(answer, BULK, "post", 200)
    assert answer["optOuts"]["successful"] == ["+14155550100", "+14155550101"]
    assert [f["to"] for f in answer["optOuts"]["failed"]] == ["bad"]
    _, _, v2 = await client.search(optStatus="OptOut")
    assert {r["to"] for r in v2["records"]} == {"+14155550100", "+14155550101"}
    status, _, listing = await client.call("GET", OPT_OUTS, params={"from": SENDER})
    assert status == 200
    assert_valid(listing, OPT_OUTS, "get", 200)
    assert [(r["to"], r["status"], r["source"]) for r in listing["records"]] == [
        ("+14155550100", "OptOut", "Account"), ("+14155550101", "OptOut", "Account")]
    _, _, every = await client.call("GET", OPT_OUTS, params={"status": "all", "from": "*"})
    assert len(every["records"]) == 3
    _, headers, text = await client.call("GET", OPT_OUTS, headers={"Accept": "text/csv"})
    assert headers["Content-Type"].startswith("text/csv")
    assert text.splitlines()[0] == "FROM,TO,STATUS,SOURCE"
    status, _, refused = await client.call("POST", BULK, {"from": "+19995550100",
                                                          "optOuts": ["+14155550103"]})
    assert status == 400
    assert_valid(refused, BULK, "post", 400)
    assert refused["errors"][0]["parameterName"] == "from"


async def test_consent_calls_need_a_token_and_count_as_light(
        simulator: RunningSimulator, http: aiohttp.ClientSession) -> None:
    """v2 consent calls are authenticated and throttled in the Light group, like the spec says."""
    async with http.post(f"{simulator.url}{SEARCH.replace('{accountId}', '~')}",
                         json={}) as response:
        assert response.status == 401
    client = await client_for(simulator, http)
    for path, method in ((SEARCH, "POST"), (f"{CONSENTS}/export", "GET"), (OPT_OUTS, "GET")):
        _, headers, _ = await client.call(method, path, {} if method == "POST" else None)
        assert headers["X-Rate-Limit-Group"] == "Light"


async def test_unknown_path_is_not_blamed_on_the_account(
        simulator: RunningSimulator, http: aiohttp.ClientSession) -> None:
    """A path the API does not have answers 404 naming the path, not [accountId]."""
    client = await client_for(simulator, http)
    status, _, body = await client.call("GET", f"{A2P}/opt-outs-nowhere")
    assert status == 404
    assert body["errorCode"] == "CMN-102"
    assert "accountId" not in body["message"]
    assert "/opt-outs-nowhere" in body["message"]


def test_seeding_is_deterministic_and_reaches_other_numbers() -> None:
    """The same seed gives the same records; elsewhere_share puts opt-outs on other numbers."""
    settings = sim_settings(consents=SEEDED)
    first, second = ConsentStore.seeded(settings, 0.0), ConsentStore.seeded(settings, 0.0)
    pairs = [(r.sender, r.to, r.status, r.source) for r in first.records()]
    assert pairs == [(r.sender, r.to, r.status, r.source) for r in second.records()]
    senders = {r.sender for r in first.records() if r.status == OPT_OUT}
    assert SENDER in senders
    assert senders - {SENDER}
    other = ConsentStore.seeded(sim_settings(consents=ConsentSettings(
        seed=8, opted_out=2_500, pool_size=50_000)), 0.0)
    assert {r.to for r in other.records()} != {r.to for r in first.records()}


def test_consents_are_read_from_the_profile() -> None:
    """[simulator.consents] sets the seeded records; a pool start that is no number is refused."""
    table = Table("sim.toml", "simulator.", {"consents": {
        "seed": 4, "opted_out": 10, "elsewhere_share": 0.5, "charge_opted_out": True}})
    consents = parse_simulator_table(table, {}).consents
    assert (consents.seed, consents.opted_out, consents.elsewhere_share,
            consents.charge_opted_out) == (4, 10, 0.5, True)
    bad = Table("sim.toml", "simulator.", {"consents": {"pool_start": "12012000000"}})
    with pytest.raises(ConfigError, match=r"E\.164"):
        parse_simulator_table(bad, {})
    too_many = Table("sim.toml", "simulator.", {"consents": {"opted_out": 11, "pool_size": 10}})
    with pytest.raises(ConfigError, match="pool_size"):
        parse_simulator_table(too_many, {})
