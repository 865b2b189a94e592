"""The simulator's carrier daily cap (FaultSettings.carrier_cap_after): past that many
messages created in a Pacific day, each fails SMS-CAR-450 as deliveryFailed; the count starts
again at 00:00 America/Los_Angeles."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from engine.simulator.store import Store
from engine.simulator.views import statuses_view
from tests.conftest import SENDER, sim_settings

PACIFIC = ZoneInfo("America/Los_Angeles")


def body(count: int, start: int = 0) -> dict[str, object]:
    return {"from": SENDER, "text": "Hi",
            "messages": [{"to": [f"+1212{2000000 + start + i:07d}"]} for i in range(count)]}


def test_messages_past_the_day_s_carrier_cap_fail_sms_car_450_until_midnight_pacific(
        ) -> None:
    """With a cap of 15 a day, a batch of 10 then one of 10 leave the last 5 failing
    SMS-CAR-450 (deliveryFailed, with their code counted); the next Pacific day starts again."""
    store = Store(sim_settings(failure_rate=0.0, messages_per_second=1e6))
    friday = datetime(2026, 11, 20, 9, tzinfo=PACIFIC).timestamp()
    one, _ = store.create_batch(body(10), friday, 15)
    two, _ = store.create_batch(body(10, 10), friday + 60, 15)
    later = friday + 3600
    assert statuses_view([one], later, 0.0)["deliveryFailed"]["count"] == 0
    failed = statuses_view([two], later, 0.0)["deliveryFailed"]
    assert (failed["count"], failed["errorCodeCounts"]) == (5, {"SMS-CAR-450": 5})
    assert [two.failure(i) for i in range(10)] == [None] * 5 + ["SMS-CAR-450"] * 5
    saturday = datetime(2026, 11, 21, 0, 1, tzinfo=PACIFIC).timestamp()
    three, _ = store.create_batch(body(10, 20), saturday, 15)
    assert statuses_view([three], saturday + 60, 0.0)["deliveryFailed"]["count"] == 0
    off, _ = store.create_batch(body(30, 30), saturday + 60, 0)  # the mode off
    assert statuses_view([off], saturday + 120, 0.0)["deliveryFailed"]["count"] == 0
