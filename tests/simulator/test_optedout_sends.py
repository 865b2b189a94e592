"""What an opt-out does to a batch: accepted in the 201, failed SMS-RC-413 when processed, for
the pair only; a STOP mid-campaign fails the later messages to that pair, not the earlier."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from engine.simulator import RunningSimulator
from engine.simulator.settings import ConsentSettings
from tests.conftest import SENDER, FakeClock, MakeSimulator, bearer, login
from tests.openapi import A2P, PHONE_NUMBERS, PREFLIGHT_SPEC, assert_valid

OTHER_SENDER = "+16505550101"
OPTED_OUT = "+14155550100"


class Api:
    def __init__(self, http: aiohttp.ClientSession, running: RunningSimulator,
                 token: dict[str, Any]) -> None:
        self.http = http
        self.url = running.url
        self.headers = bearer(token)

    async def call(self, method: str, path: str, body: Any = None, **params: Any
                   ) -> tuple[int, Any]:
        async with self.http.request(method, self.url + path.replace("{accountId}", "~"),
                                     data=None if body is None else orjson.dumps(body),
                                     headers={**self.headers,
                                              "Content-Type": "application/json"},
                                     params=params) as response:
            return response.status, await response.json(content_type=None)

    async def send(self, sender: str, numbers: list[str]) -> dict[str, Any]:
        status, body = await self.call("POST", f"{A2P}/batches", {
            "from": sender, "text": "Hello", "messages": [{"to": [n]} for n in numbers]})
        assert status == 201
        assert_valid(body, f"{A2P}/batches", "post", 201)
        return dict(body)

    async def messages(self, batch_id: str) -> list[dict[str, Any]]:
        status, page = await self.call("GET", f"{A2P}/messages", batchId=batch_id, perPage=1000)
        assert status == 200
        assert_valid(page, f"{A2P}/messages", "get", 200)
        return list(page["records"])

    async def inbound(self, recipient: str, own: str, text: str) -> Any:
        async with self.http.post(f"{self.url}/_sim/inbound", json={
                "from": recipient, "to": own, "text": text}) as response:
            assert response.status == 200
            return await response.json()


async def api_for(running: RunningSimulator, http: aiohttp.ClientSession) -> Api:
    return Api(http, running, await login(http, running.url))


def recipients(n: int) -> list[str]:
    return [f"+1415{2_000_000 + i:07d}" for i in range(n)]


async def test_opted_out_pair_is_accepted_then_fails_413_uncharged(
        make_simulator: MakeSimulator, http: aiohttp.ClientSession, clock: FakeClock) -> None:
    """The 201 rejects nothing; once processed the opted-out pair is SendingFailed SMS-RC-413
    at no cost, counted so in /statuses and the batch's cost; the same recipient from another
    number of the account is delivered (RingCentral's rule is per pair)."""
    running = await make_simulator(failure_rate=0.0)
    api = await api_for(running, http)
    await api.inbound(OPTED_OUT, SENDER, "Stop")
    numbers = [*recipients(3), OPTED_OUT]
    created = await api.send(SENDER, numbers)
    assert (created["batchSize"], created["rejected"]) == (4, [])
    clock.advance(1.0)
    fates = {m["to"][0]: (m["messageStatus"], m.get("errorCode"), m["cost"])
             for m in await api.messages(created["id"])}
    assert fates[OPTED_OUT] == ("SendingFailed", "SMS-RC-413", 0.0)
    assert {fates[n][0] for n in recipients(3)} == {"Delivered"}
    _, counts = await api.call("GET", f"{A2P}/statuses", batchId=created["id"])
    assert counts["sendingFailed"]["count"] == 1
    assert counts["sendingFailed"]["errorCodeCounts"] == {"SMS-RC-413": 1}
    assert counts["sendingFailed"]["cost"] == 0.0
    assert counts["delivered"]["count"] == 3
    _, batch = await api.call("GET", f"{A2P}/batches/{created['id']}")
    assert batch["cost"] == round(3 * running.simulator.settings.price_per_segment, 6)
    elsewhere = await api.send(OTHER_SENDER, [OPTED_OUT])
    clock.advance(1.0)
    assert (await api.messages(elsewhere["id"]))[0]["messageStatus"] == "Delivered"


async def test_charge_opted_out_charges_the_failed_message(
        make_simulator: MakeSimulator, http: aiohttp.ClientSession, clock: FakeClock) -> None:
    """With charge_opted_out the SMS-RC-413 message costs its segments, like any other."""
    running = await make_simulator(failure_rate=0.0,
                                   consents=ConsentSettings(charge_opted_out=True))
    api = await api_for(running, http)
    await api.inbound(OPTED_OUT, SENDER, "STOP")
    created = await api.send(SENDER, [OPTED_OUT, *recipients(1)])
    clock.advance(1.0)
    price = running.simulator.settings.price_per_segment
    message = (await api.messages(created["id"]))[0]
    assert (message["errorCode"], message["cost"]) == ("SMS-RC-413", price)
    _, batch = await api.call("GET", f"{A2P}/batches/{created['id']}")
    assert batch["cost"] == round(2 * price, 6)


async def test_stop_mid_campaign_fails_only_the_later_messages(
        make_simulator: MakeSimulator, http: aiohttp.ClientSession, clock: FakeClock) -> None:
    """A STOP after the first message to a pair was processed fails the messages to it
    processed later (in the same batch and the next), while the first stays delivered; a
    START lifts the block for what comes after it."""
    running = await make_simulator(failure_rate=0.0, messages_per_second=10.0)
    api = await api_for(running, http)
    numbers = [OPTED_OUT, *recipients(48), OPTED_OUT]  # processed at 0.1 s and 5.0 s
    created = await api.send(SENDER, numbers)
    clock.advance(1.0)
    reply = await api.inbound(OPTED_OUT, SENDER, "STOP")
    assert reply["record"]["optStatus"] == "OptOut"
    clock.advance(10.0)
    listed = await api.messages(created["id"])
    assert (listed[0]["messageStatus"], listed[-1].get("errorCode")) == (
        "Delivered", "SMS-RC-413")
    assert sum(m["messageStatus"] == "SendingFailed" for m in listed) == 1
    later = await api.send(SENDER, [OPTED_OUT])
    clock.advance(1.0)
    assert (await api.messages(later["id"]))[0]["errorCode"] == "SMS-RC-413"
    await api.inbound(OPTED_OUT, SENDER, "start")
    again = await api.send(SENDER, [OPTED_OUT])
    clock.advance(1.0)
    assert (await api.messages(again["id"]))[0]["messageStatus"] == "Delivered"
    assert (await api.messages(later["id"]))[0]["errorCode"] == "SMS-RC-413"


async def test_seeded_replies_opt_recipients_out_as_a_campaign_runs(
        make_simulator: MakeSimulator, http: aiohttp.ClientSession, clock: FakeClock) -> None:
    """inbound_stop_rate: a seeded share replies STOP after its message; the ledger of
    consents names them, and a second batch to the same list fails exactly them."""
    consents = ConsentSettings(seed=3, inbound_stop_rate=0.1, inbound_stop_delay=5.0)
    running = await make_simulator(failure_rate=0.0, consents=consents)
    api = await api_for(running, http)
    numbers = recipients(200)
    first = await api.send(SENDER, numbers)
    clock.advance(2.5)  # all 200 processed at 100 a second; no reply is due yet
    async with http.get(f"{running.url}/_sim/consents") as response:
        assert (await response.json())["count"] == 0
    clock.advance(5.0)  # every reply is due
    async with http.get(f"{running.url}/_sim/consents") as response:
        ledger = await response.json()
    stopped = {r["to"] for r in ledger["records"]}
    assert len(stopped) == ledger["count"] == 20
    assert {(r["from"], r["optStatus"], r["source"]) for r in ledger["records"]} == {
        (SENDER, "OptOut", "Recipient")}
    assert {m["messageStatus"] for m in await api.messages(first["id"])} == {"Delivered"}
    second = await api.send(SENDER, numbers)
    clock.advance(3.0)
    failed = {m["to"][0] for m in await api.messages(second["id"])
              if m.get("errorCode") == "SMS-RC-413"}
    assert failed == stopped


async def test_phone_number_page_past_the_maximum_is_refused(
        make_simulator: MakeSimulator, http: aiohttp.ClientSession) -> None:
    """page=2147483648 is a 400 naming page (the paging model stops at 1000), not an echo."""
    running = await make_simulator()
    api = await api_for(running, http)
    status, body = await api.call("GET", PHONE_NUMBERS.replace("{extensionId}", "~"),
                                  page=2147483648)
    assert status == 400
    assert body["errors"][0]["parameterName"] == "page"
    status, last = await api.call("GET", PHONE_NUMBERS.replace("{extensionId}", "~"), page=1000)
    assert status == 200
    assert_valid(last, PHONE_NUMBERS, "get", 200, PREFLIGHT_SPEC)
    assert last["records"] == []
