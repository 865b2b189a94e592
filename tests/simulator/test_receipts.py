"""Delivery receipts on the simulator: seeded delays after processing, a share that never gets
one, documented error codes in the configured proportions, state as of now."""

from __future__ import annotations

from collections import Counter
from typing import Any

import aiohttp
import pytest

from engine.config.table import Table
from engine.errors import ConfigError
from engine.rc.errorcodes import TABLE
from engine.simulator.settings import RECEIPTS, ReceiptSettings, parse_simulator_table
from engine.simulator.store import Store
from tests.conftest import SENDER, FakeClock, MakeSimulator, login, sim_settings
from tests.openapi import assert_valid
from tests.simulator.test_batches import A2P, Api

RECEIPTS_ON = ReceiptSettings(seed=5, delay_median=2.0, delay_sigma=0.8, no_receipt_rate=0.1)


def batch_of(n: int) -> dict[str, Any]:
    return {"from": SENDER, "text": "Hi",
            "messages": [{"to": [f"+1415{2_000_000 + i:07d}"]} for i in range(n)]}


async def receipts_api(make_simulator: MakeSimulator, http: aiohttp.ClientSession,
                       **changes: Any) -> Api:
    running = await make_simulator(receipts=RECEIPTS_ON, failure_rate=0.2,
                                   messages_per_second=1000.0, **changes)
    return Api(http, running.url, await login(http, running.url))


async def statuses(api: Api, batch_id: str) -> dict[str, Any]:
    status, counts = await api.get("/statuses", batchId=batch_id)
    assert status == 200
    assert_valid(counts, f"{A2P}/statuses", "get", 200)
    return counts


async def test_receipts_arrive_after_processing_and_some_never(
        make_simulator: MakeSimulator, http: aiohttp.ClientSession, clock: FakeClock) -> None:
    """Processed messages are Sent until their receipt; later they are final, except the
    silent share, which stays Sent; /statuses and /messages agree at every moment."""
    api = await receipts_api(make_simulator, http)
    _, created = await api.post(batch_of(400))
    clock.advance(0.5)  # all processed (1000/s), few receipts yet
    early = await statuses(api, created["id"])
    assert early["queued"]["count"] == 0
    assert early["sent"]["count"] > 300
    clock.advance(300)  # long after every receipt (median 2 s)
    late = await statuses(api, created["id"])
    assert late["sent"]["count"] == 40  # no_receipt_rate 0.1 of 400
    assert late["deliveryFailed"]["count"] + late["sendingFailed"]["count"] == 80
    _, page = await api.get("/messages", batchId=created["id"], perPage=1000)
    listed = Counter(m["messageStatus"] for m in page["records"])
    assert listed["Sent"] == 40
    assert listed["Delivered"] == late["delivered"]["count"]
    assert all(m["errorCode"] in TABLE for m in page["records"] if "errorCode" in m)


async def test_failure_codes_follow_the_configured_mix(
        make_simulator: MakeSimulator, http: aiohttp.ClientSession, clock: FakeClock) -> None:
    """Failures carry the documented codes, in roughly the configured proportions, with the
    status each code comes with."""
    api = await receipts_api(make_simulator, http)
    _, created = await api.post(batch_of(5000))
    clock.advance(300)  # long after every receipt (median 2 s)
    counts = await statuses(api, created["id"])
    codes = {**counts["deliveryFailed"]["errorCodeCounts"],
             **counts["sendingFailed"]["errorCodeCounts"]}
    assert sum(codes.values()) == 1000
    for code, share in RECEIPTS_ON.codes:
        assert abs(codes.get(code, 0) / 1000 - share) < 0.06
        key = "sendingFailed" if TABLE[code].status == "SendingFailed" else "deliveryFailed"
        assert code in counts[key]["errorCodeCounts"]


def test_same_seed_same_receipts() -> None:
    """Receipts are drawn from their seed: the same settings give the same fates."""
    def fates(seed: int) -> list[tuple[str, str | None]]:
        store = Store(sim_settings(receipts=ReceiptSettings(seed=seed, delay_median=1.0,
                                                            no_receipt_rate=0.1),
                                   failure_rate=0.3))
        batch, _ = store.create_batch(batch_of(300), 0.0)
        return [batch.fate(i, 2.0, batch.size) for i in range(batch.size)]

    assert fates(1) == fates(1)
    assert fates(1) != fates(2)


def test_receipt_presets_and_code_mix_are_read_from_the_profile() -> None:
    """[simulator.receipts] picks a preset, overrides keys, and refuses a malformed mix."""
    table = Table("sim.toml", "simulator.", {"receipts": {
        "preset": "realistic", "seed": 9, "codes": ["SMS-CAR-413:1", "SMS-RC-503:0.5"]}})
    receipts = parse_simulator_table(table, {}).receipts
    assert receipts.delay_median == RECEIPTS["realistic"].delay_median == 120.0
    assert (receipts.seed, receipts.codes) == (9, (("SMS-CAR-413", 1.0), ("SMS-RC-503", 0.5)))
    bad = Table("sim.toml", "simulator.", {"receipts": {"codes": ["SMS-CAR-413"]}})
    with pytest.raises(ConfigError, match="CODE:share"):
        parse_simulator_table(bad, {})
