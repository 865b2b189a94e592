"""A scheduled send's ops signals: its rounds' events all say which run, and its metrics
file says finished once, after the last round."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.test_ops_signals import _samples, _value
from tests.e2e.test_schedule_rounds import (  # the fake-clock simulator fixture too
    Start,
    national_list,
    opening,
    send,
    start,
)

__all__ = ["start"]


async def test_a_scheduled_send_stamps_every_event_and_finishes_its_metrics_once(
        start: Start, tmp_path: Path) -> None:
    """A send in rounds (quiet hours): every event, the loop's ``waiting`` ones too, carries
    the run's id; no round after the first says ``resumed`` (its counters go on already);
    the metrics file says finished only after the last round, with everyone sent."""
    time, _, settings, zones, watch = await opening(start, tmp_path, national_list)
    target = tmp_path / "rounds.prom"
    finished_between: list[float] = []
    waiting = watch.on_event

    async def on_event(event: dict[str, Any]) -> None:
        await waiting(event)
        if event["event"] == "waiting":
            finished_between.append(_value(_samples(target), "a2p_finished"))

    watch.on_event = on_event  # type: ignore[method-assign]
    report = await send(tmp_path / "list.csv", settings, time, watch,
                        journal=tmp_path / "run.journal", quiet_hours="tcpa", metrics=target)
    assert watch.kinds("waiting")
    assert {event["runId"] for event in watch.events} == {report["runId"]}
    assert all(event["time"].endswith("Z") for event in watch.events)
    assert not watch.kinds("resumed")
    assert finished_between
    assert set(finished_between) == {0}
    final = _samples(target)
    assert _value(final, "a2p_finished") == 1
    assert _value(final, "a2p_sent_total") == report["totals"]["sent"] == len(zones)
