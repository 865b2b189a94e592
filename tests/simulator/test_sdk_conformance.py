"""The official RingCentral Python SDK, a client nobody here wrote, works against the simulator."""

from __future__ import annotations

from ringcentral import SDK

from engine.config.credentials import DEMO_CREDENTIALS
from engine.simulator import SimulatorThread
from tests.conftest import sim_settings

BROADCAST = {
    "from": "+16505550100",
    "text": "Hello Team",
    "messages": [{"to": ["+14155550100"]}, {"to": ["+12125550100"]}],
}
PER_MESSAGE = {
    "from": "+16505550100",
    "text": "Hello Friend",
    "messages": [
        {"to": ["+14155550100"], "text": "Hello Alice"},
        {"to": ["+12125550100"], "text": "Hello Bob"},
        {"to": ["+16505550199"]},
    ],
}


def test_official_sdk_logs_in_sends_the_guide_samples_and_sees_completed() -> None:
    """JWT login, both guide samples posted, each batch read back as Completed."""
    settings = sim_settings(messages_per_second=1e9)
    with SimulatorThread(settings) as running:
        sdk = SDK(DEMO_CREDENTIALS.client_id, DEMO_CREDENTIALS.client_secret, running.url)
        platform = sdk.platform()
        platform.login(jwt=DEMO_CREDENTIALS.jwt)
        for body, size in ((BROADCAST, 2), (PER_MESSAGE, 3)):
            created = platform.post("/restapi/v1.0/account/~/a2p-sms/batches", body).json_dict()
            assert (created["batchSize"], created["rejected"]) == (size, [])
            read = platform.get(f"/restapi/v1.0/account/~/a2p-sms/batches/{created['id']}")
            assert read.json_dict()["status"] == "Completed"
        texts = [entry[3] for entry in running.simulator.store.ledger()]
        assert texts == ["Hello Team"] * 2 + ["Hello Alice", "Hello Bob", "Hello Friend"]
        platform.logout()
        assert running.simulator.store.open_sessions() == 0
