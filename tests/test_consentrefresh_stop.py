"""A stop heard while the opt-outs are read again mid-run (engine/run/consentrefresh.py) is the
user's stop, not a failed read: nothing more is POSTed, and no warning tells of a read that
failed nor advises anything (cold review of issue 21, M6)."""

from __future__ import annotations

import anyio

from engine.errors import StoppedError
from engine.reading.consentset import ConsentSet
from engine.run.consent import Consents
from engine.run.consentrefresh import ConsentRefresh
from engine.run.events import Event
from engine.run.gate import Gate
from engine.run.recorder import Recorder
from tests.fakes import FakeClock
from tests.test_consentrefresh import consents


async def test_a_stop_during_a_read_again_stops_the_run_without_a_failure() -> None:
    """The read again raises the rate budget's StoppedError (the stop set while it waited):
    the refresh says nothing may be POSTed, records no failure and emits no warning."""
    wall = FakeClock()
    stopping = anyio.Event()
    events: list[Event] = []

    async def emit(event: Event) -> None:
        events.append(event)

    async def read() -> Consents:
        stopping.set()  # Ctrl-C while the read waited for the Light budget
        raise StoppedError("stopped while waiting for the light rate budget; the request "
                           "was not sent")

    refreshing = ConsentRefresh(consents(wall()), read, Gate(ConsentSet([]), lambda r: None),
                                Recorder(emit), max_age=60.0, wall=wall, stopping=stopping)
    wall.advance(61.0)
    assert await refreshing.current() is False
    assert refreshing.failure is None
    assert events == []
