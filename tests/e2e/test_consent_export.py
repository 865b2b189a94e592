"""A consent export that cannot be trusted stops the run before any POST, saying what was
seen: a CSV cut short mid-row behind a valid Content-Length (the simulator's
``consent_export_cut``), a 304 to an export asked without If-None-Match (refused at once,
not retried)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.errors import ConsentError
from engine.simulator import FaultSettings
from tests.e2e.conftest import SENDER, Start
from tests.fakes import FakeA2P, MockTransport, Request, reply
from tests.fakes import settings as fake_settings

OTHER = "+16505550101"


async def test_a_cut_export_stops_the_run_before_any_post(start: Start) -> None:
    """The export's CSV cut short mid-row (a 200, 100 of 200 opt-outs): nothing is sent, and
    the error names the cut and --no-consent; whole, the same export suppresses all 200."""
    running, settings = await start(faults=FaultSettings(consent_export_cut=True))
    items = [f"+1415555{k:04d}" for k in range(400)]
    for to in items[::2]:
        running.simulator.store.consents.set(OTHER, to, "OptOut", "Recipient", time.time())
    with pytest.raises(ConsentError, match=r"cut short.*no line end.*--no-consent") as caught:
        await engine.send(items, sender=SENDER, text="Hi", config=settings,
                          credentials=DEMO_CREDENTIALS)
    assert not re.search(r"\w\.\.", str(caught.value))  # no doubled period
    assert running.simulator.store.accepted_count() == 0
    running.simulator.faults = FaultSettings()
    report = await engine.send(items, sender=SENDER, text="Hi", config=settings,
                               credentials=DEMO_CREDENTIALS)
    assert report["totals"]["suppressed"] == {"consent": 200}


async def test_an_unasked_304_is_refused_at_once() -> None:
    """A 304 to the export asked without If-None-Match (a gateway's cache): one request, a
    ConsentError naming the 304, no doubled period, no POST."""
    fake = FakeA2P()

    def handler(request: Request) -> Any:
        if request.path.endswith("/sms/consents/export"):
            return reply(304, ETag='"x"')
        return fake(request)

    transport = MockTransport(handler)
    with pytest.raises(ConsentError, match=r"304 Not Modified.*without If-None-Match") as caught:
        await engine.send(["+14155550100"], sender=SENDER, text="Hi",
                          config=fake_settings(), credentials=DEMO_CREDENTIALS,
                          transport=transport, preflight=False)
    assert not re.search(r"\w\.\.", str(caught.value))  # no doubled period
    exports = [r for r in transport.requests if r.path.endswith("/sms/consents/export")]
    assert len(exports) == 1
    assert transport.sent("POST", "/batches") == []
