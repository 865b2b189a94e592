"""Fault injection: seeded, reproducible, and each mode visible to a client as it would be."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from engine.simulator import FaultSettings, RunningSimulator
from tests.conftest import SENDER, FakeClock, MakeSimulator, bearer, login
from tests.openapi import A2P
from tests.waiting import until

BODY = orjson.dumps({"from": SENDER, "text": "Hi", "messages": [{"to": ["+14155550100"]}]})


async def post_batch(http: aiohttp.ClientSession, running: RunningSimulator,
                     token: dict[str, Any]) -> int:
    url = f"{running.url}{A2P.replace('{accountId}', '~')}/batches"
    headers = {**bearer(token), "Content-Type": "application/json"}
    async with http.post(url, data=BODY, headers=headers) as response:
        return response.status


async def test_server_errors_at_a_rate_are_reproducible(make_simulator: MakeSimulator,
                                                        http: aiohttp.ClientSession) -> None:
    """The same seed gives the same sequence of 5xx answers."""
    faults = FaultSettings(seed=7, error_rate=0.5, error_statuses=(500, 502, 503))
    runs = []
    for _ in range(2):
        running = await make_simulator(faults=faults)
        token = await login(http, running.url)
        runs.append([await post_batch(http, running, token) for _ in range(12)])
    assert runs[0] == runs[1]
    assert {500, 502, 503} & set(runs[0])
    assert 201 in runs[0]


async def test_reset_drops_the_connection_before_anything_is_created(
    make_simulator: MakeSimulator, http: aiohttp.ClientSession
) -> None:
    """A reset reaches the client as a disconnect and creates no batch."""
    running = await make_simulator(faults=FaultSettings(reset_rate=1.0, scope="send"))
    token = await login(http, running.url)
    with pytest.raises(aiohttp.ClientConnectionError):
        await post_batch(http, running, token)
    assert running.simulator.store.accepted_count() == 0


async def test_accept_then_drop_creates_the_batch_but_no_answer(
    make_simulator: MakeSimulator, http: aiohttp.ClientSession
) -> None:
    """Accept-then-drop: the ledger has the message, the client only sees a disconnect."""
    running = await make_simulator(faults=FaultSettings(accept_drop_rate=1.0))
    token = await login(http, running.url)
    with pytest.raises(aiohttp.ClientConnectionError):
        await post_batch(http, running, token)
    assert [e[2] for e in running.simulator.store.ledger()] == ["+14155550100"]


async def test_burst_of_429s_then_service_resumes(make_simulator: MakeSimulator,
                                                  http: aiohttp.ClientSession) -> None:
    """A burst answers burst_length requests with 429 and Retry-After, then serves again."""
    faults = FaultSettings(burst_rate=1.0, burst_length=2, burst_retry_after=1, scope="send")
    running = await make_simulator(faults=faults)
    token = await login(http, running.url)
    statuses = [await post_batch(http, running, token) for _ in range(2)]
    assert statuses == [429, 429]
    running.simulator.set_faults(FaultSettings())
    assert await post_batch(http, running, token) == 201


async def test_latency_is_added_through_the_sleep_seam(make_simulator: MakeSimulator,
                                                       http: aiohttp.ClientSession) -> None:
    """Each in-scope request waits latency plus jitter before it is served."""
    running = await make_simulator(faults=FaultSettings(latency=0.25, latency_jitter=0.0))
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    running.simulator.sleep = record
    token = await login(http, running.url)
    assert await post_batch(http, running, token) == 201
    assert waits == [0.25]


async def test_early_expiry_kills_a_token_before_its_ttl(
    make_simulator: MakeSimulator, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """A token issued under early expiry promises the full TTL but dies after a second."""
    running = await make_simulator(faults=FaultSettings(early_expiry_rate=1.0, early_expiry=1.0))
    token = await login(http, running.url)
    assert token["expires_in"] == 3600
    clock.advance(2)
    url = f"{running.url}{A2P.replace('{accountId}', '~')}/batches"
    async with http.get(url, headers=bearer(token)) as response:
        assert response.status == 401
        assert (await response.json())["errorCode"] == "OAU-128"


async def test_faults_can_be_changed_over_http(simulator: RunningSimulator,
                                               http: aiohttp.ClientSession) -> None:
    """PUT /_sim/faults switches fault modes for a simulator in another process."""
    async with http.put(f"{simulator.url}/_sim/faults", json={"error_rate": 1.0}) as response:
        assert response.status == 200
    token = await login(http, simulator.url)
    assert await post_batch(http, simulator, token) >= 500
    async with http.put(f"{simulator.url}/_sim/faults", json={"error_rate": 2}) as response:
        assert response.status == 400
        assert "error_rate" in (await response.json())["message"]


# Lost answers the way large services lose them ------------------------------------------------

def a2p_url(running: RunningSimulator, path: str) -> str:
    return f"{running.url}{A2P.replace('{accountId}', '~')}{path}"


async def get(http: aiohttp.ClientSession, running: RunningSimulator, token: dict[str, Any],
              path: str, **params: Any) -> tuple[Any, dict[str, str]]:
    async with http.get(a2p_url(running, path), headers=bearer(token),
                        params={k: str(v) for k, v in params.items()}) as response:
        assert response.status == 200
        return orjson.loads(await response.read()), dict(response.headers)


async def test_late_creation_answers_504_and_creates_the_batch_afterwards(
    make_simulator: MakeSimulator, http: aiohttp.ClientSession
) -> None:
    """504 at once, nothing created yet; the backend creates the batch after the delay."""
    running = await make_simulator(faults=FaultSettings(late_create_rate=1.0,
                                                        late_create_delay=0.05, scope="send"))
    token = await login(http, running.url)
    assert await post_batch(http, running, token) == 504
    assert running.simulator.store.accepted_count() == 0
    await until(running.simulator.store.accepted_count, "the backend to create the batch")
    assert [e[2] for e in running.simulator.store.ledger()] == ["+14155550100"]


async def test_listing_lag_hides_a_new_batch_from_the_listing_for_a_while(
    make_simulator: MakeSimulator, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """Created (201) but missing from GET .../batches until the lag has passed."""
    running = await make_simulator(faults=FaultSettings(listing_lag=6.0))
    token = await login(http, running.url)
    assert await post_batch(http, running, token) == 201
    listing, _ = await get(http, running, token, "/batches")
    assert listing["records"] == []
    clock.advance(6.0)
    listing, _ = await get(http, running, token, "/batches")
    assert len(listing["records"]) == 1


async def test_messages_are_listed_only_once_processing_started_in_another_order(
    make_simulator: MakeSimulator, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """GET .../messages?batchId= is empty until processing starts, then lists every message
    once, not in the request's order."""
    running = await make_simulator(faults=FaultSettings(messages_after_start=True),
                                   messages_per_second=1.0)
    token = await login(http, running.url)
    body: dict[str, Any] = {"from": SENDER, "text": "Hi",
                            "messages": [{"to": [f"+1415555{i:04d}"]} for i in range(10)]}
    async with http.post(a2p_url(running, "/batches"), data=orjson.dumps(body),
                         headers={**bearer(token), "Content-Type": "application/json"}) as r:
        batch_id = orjson.loads(await r.read())["id"]
    page, _ = await get(http, running, token, "/messages", batchId=batch_id)
    assert page["records"] == []
    clock.advance(1.0)
    page, _ = await get(http, running, token, "/messages", batchId=batch_id, perPage=1000)
    listed = [m["to"][0] for m in page["records"]]
    sent = [m["to"][0] for m in body["messages"]]
    assert sorted(listed) == sorted(sent)
    assert listed != sent


@pytest.mark.parametrize("skew", [-300.0, 300.0])
async def test_a_skewed_server_clock_shows_in_date_and_creation_time(
    make_simulator: MakeSimulator, http: aiohttp.ClientSession, clock: FakeClock, skew: float
) -> None:
    """The Date header and creationTime follow the server's (skewed) clock."""
    from datetime import datetime
    from email.utils import parsedate_to_datetime

    running = await make_simulator(faults=FaultSettings(clock_skew=skew))
    token = await login(http, running.url)
    assert await post_batch(http, running, token) == 201
    listing, headers = await get(http, running, token, "/batches",
                                 dateFrom="2000-01-01T00:00:00Z")
    date = parsedate_to_datetime(headers["Date"]).timestamp()
    assert abs(date - (clock.now + skew)) < 1.0
    created = datetime.fromisoformat(listing["records"][0]["creationTime"]).timestamp()
    assert created == pytest.approx(clock.now + skew)


async def test_small_pages_with_other_campaigns_from_the_same_sender(
    make_simulator: MakeSimulator, http: aiohttp.ClientSession
) -> None:
    """page_cap caps perPage; other_campaigns adds same-sender batches with another text."""
    running = await make_simulator(faults=FaultSettings(page_cap=2, other_campaigns=3))
    token = await login(http, running.url)
    assert await post_batch(http, running, token) == 201
    listing, _ = await get(http, running, token, "/batches", perPage=1000)
    assert len(listing["records"]) == 2
    assert listing["paging"]["nextPageToken"] == "2"
    texts = [e[3] for e in running.simulator.store.ledger()]
    assert texts.count("Hi") == 1
    assert len(texts) == 4
    assert {b.sender for b in running.simulator.store.batches} == {SENDER}


async def test_answers_in_pieces_arrive_whole(make_simulator: MakeSimulator,
                                              http: aiohttp.ClientSession) -> None:
    """answer_piece writes the answer in small pieces; read to its end it is the whole."""
    running = await make_simulator(faults=FaultSettings(answer_piece=7, answer_pause=0.0))
    token = await login(http, running.url)
    listing, headers = await get(http, running, token, "/batches")
    assert listing == {"records": [], "paging": {"perPage": 100, "pageToken": "0"}}
    assert headers.get("Transfer-Encoding") == "chunked"


async def test_a_lagging_store_lists_a_completed_batch_gradually_and_pages_stay_stable(
    make_simulator: MakeSimulator, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """store_lag: Completed at once, yet GET .../messages lists the batch a few at a time
    over the lag; pages of what is listed never shift, and after the lag it is all there."""
    running = await make_simulator(faults=FaultSettings(seed=3, store_lag=30.0))
    token = await login(http, running.url)
    sent = [f"+1415555{i:04d}" for i in range(40)]
    body = {"from": SENDER, "text": "Hi", "messages": [{"to": [n]} for n in sent]}
    async with http.post(a2p_url(running, "/batches"), data=orjson.dumps(body),
                         headers={**bearer(token), "Content-Type": "application/json"}) as r:
        batch = orjson.loads(await r.read())
    clock.advance(10.0)
    view, _ = await get(http, running, token, f"/batches/{batch['id']}")
    assert view["status"] == "Completed"
    listed, _ = await get(http, running, token, "/messages", batchId=batch["id"], perPage=1000)
    early = [m["to"][0] for m in listed["records"]]
    assert 0 < len(early) < len(sent)  # some, not all: the store lags Completed
    first, _ = await get(http, running, token, "/messages", batchId=batch["id"], perPage=3)
    clock.advance(5.0)
    again, _ = await get(http, running, token, "/messages", batchId=batch["id"], perPage=3)
    assert first["records"] == again["records"]  # what was listed keeps its place
    clock.advance(30.0)
    listed, _ = await get(http, running, token, "/messages", batchId=batch["id"], perPage=1000)
    late = [m["to"][0] for m in listed["records"]]
    assert sorted(late) == sent
    assert late[:len(early)] == early


# 5xx after creation, held answers, outages that heal (issue 18) ---------------------------------

async def post_answer(http: aiohttp.ClientSession, running: RunningSimulator,
                      token: dict[str, Any]) -> tuple[int, str, dict[str, str]]:
    headers = {**bearer(token), "Content-Type": "application/json"}
    async with http.post(a2p_url(running, "/batches"), data=BODY, headers=headers) as r:
        return r.status, await r.text(), dict(r.headers)


@pytest.mark.parametrize("html", [False, True])
async def test_a_5xx_after_creation_is_answered_once_the_batch_exists(
    make_simulator: MakeSimulator, http: aiohttp.ClientSession, html: bool
) -> None:
    """503 (JSON or a load balancer's HTML page, with Retry-After), and the ledger already
    holds the message: the answer says failure, the batch exists."""
    running = await make_simulator(faults=FaultSettings(
        error_after_create_rate=1.0, error_after_create_statuses=(503,),
        gateway_html_rate=float(html), gateway_retry_after=7, scope="send"))
    token = await login(http, running.url)
    status, body, headers = await post_answer(http, running, token)
    assert status == 503
    assert headers["Retry-After"] == "7"
    if html:
        assert headers["Content-Type"].startswith("text/html")
        assert "<h1>503 Service Temporarily Unavailable</h1>" in body
    else:
        assert orjson.loads(body)["errorCode"] == "CMN-211"
    assert [e[2] for e in running.simulator.store.ledger()] == ["+14155550100"]
    assert running.simulator.stats["error_after_create"] == 1


async def test_an_answer_held_past_the_clients_timeout_still_created_the_batch(
    make_simulator: MakeSimulator, http: aiohttp.ClientSession
) -> None:
    """The client gives up waiting; the batch was created before the answer was held."""
    running = await make_simulator(faults=FaultSettings(hold_answer_rate=1.0, hold_answer=30.0,
                                                        scope="send"))
    token = await login(http, running.url)
    with pytest.raises(TimeoutError):
        async with http.post(a2p_url(running, "/batches"), data=BODY,
                             headers={**bearer(token), "Content-Type": "application/json"},
                             timeout=aiohttp.ClientTimeout(total=0.3)) as response:
            await response.read()
    assert [e[2] for e in running.simulator.store.ledger()] == ["+14155550100"]
    assert running.simulator.stats["held_answer"] == 1


async def test_an_outage_creates_nothing_until_it_heals_after_its_time(
    make_simulator: MakeSimulator, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """Every batch POST gets the outage's 5xx and nothing is created; after outage_for
    seconds the same POST creates its batch."""
    running = await make_simulator(faults=FaultSettings(outage_status=503, outage_for=60.0,
                                                        gateway_html_rate=1.0))
    token = await login(http, running.url)
    assert [await post_batch(http, running, token) for _ in range(3)] == [503] * 3
    assert running.simulator.store.accepted_count() == 0
    clock.advance(60.0)
    assert await post_batch(http, running, token) == 201
    assert [e[2] for e in running.simulator.store.ledger()] == ["+14155550100"]


async def test_an_outage_without_a_time_heals_through_the_control_endpoint(
    make_simulator: MakeSimulator, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """outage_for 0: down until PUT /_sim/faults turns it off, however long that takes."""
    running = await make_simulator(faults=FaultSettings(outage_status=502))
    token = await login(http, running.url)
    clock.advance(3000.0)  # long after, within the token's hour
    assert await post_batch(http, running, token) == 502
    async with http.put(f"{running.url}/_sim/faults", json={}) as response:
        assert response.status == 200
    assert await post_batch(http, running, token) == 201
    assert running.simulator.stats["outage"] == 1
