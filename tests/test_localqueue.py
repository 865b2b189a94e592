"""Local rejections reach the run in bounded batches while the list is read, not all at once
when a chunk is cut: a list of bad rows holds no more than a batch of them in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import anyio.to_thread
import pytest

import engine
from engine.core.rejections import INVALID_NUMBER, Rejection
from engine.run import localqueue
from engine.run.localqueue import LocalRejections
from engine.types import Report
from tests.fakes import CREDENTIALS, SENDER, FakeA2P, FakeClock, MockTransport, settings


def bad(index: int) -> Rejection:
    return Rejection(index, index + 1, "x", INVALID_NUMBER, "'x' is not a number")


async def test_a_reader_thread_hands_over_every_few_rejections_in_order() -> None:
    """Appends from a worker thread are drained every flush_at, in order, none lost."""
    local = LocalRejections(flush_at=3)
    drained: list[list[int]] = []
    most = 0

    async def drain() -> None:
        nonlocal most
        most = max(most, len(local))
        drained.append([r.index for r in local.take()])

    local.bind(drain)

    def read() -> None:
        for k in range(10):
            local.append(bad(k))

    await anyio.to_thread.run_sync(read)
    drained.append([r.index for r in local.take()])
    assert drained == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert most == 3


def test_appends_on_the_loop_thread_only_accumulate() -> None:
    """On the loop's own thread an append never blocks (it cannot wait for the loop): the
    run takes the batch at its next hand_on or chunk."""
    local = LocalRejections(flush_at=2)
    for k in range(5):
        local.append(bad(k))
    assert [r.index for r in local.take()] == [0, 1, 2, 3, 4]
    assert len(local) == 0


ROWS = 5_000


class Watch:
    """The rejected events a run has told, and how many it had told when the reader took
    the last bad row."""

    def __init__(self) -> None:
        self.told: list[int] = []
        self.at_last: int | None = None

    async def on_event(self, event: dict[str, Any]) -> None:
        if event["event"] == "rejected":
            self.told.append(event["index"])

    def row(self, k: int) -> str:
        if k == ROWS - 1:
            self.at_last = len(self.told)
        return f"not a number {k}"


async def send_watched(items: Any, watch: Watch) -> Report:
    clock = FakeClock()
    return await engine.send(items, sender=SENDER, text="Hi", config=settings(),
                             credentials=CREDENTIALS, transport=MockTransport(FakeA2P()),
                             clock=clock, sleep=clock.sleep, preflight=False,
                             on_event=watch.on_event)


async def test_a_list_of_bad_rows_is_reported_while_it_is_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Rejection events go out as the reader finds them: when the last of 5,000 bad rows is
    read, all but the last batch of them have been reported, though no chunk was cut."""
    monkeypatch.setattr(localqueue, "FLUSH_AT", 100)
    watch = Watch()

    def items() -> Iterator[str]:
        yield from map(watch.row, range(ROWS))
        yield "+14155550100"

    report = await send_watched(items(), watch)
    assert watch.at_last is not None
    assert watch.at_last >= ROWS - 100
    assert sorted(watch.told) == list(range(ROWS))
    assert report["totals"]["rejectedLocal"] == ROWS
    assert report["totals"]["sent"] == 1


async def test_a_list_of_bad_async_items_is_reported_while_it_is_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Async items are read on the loop: every few items the reader pauses and the run takes
    the rejections found, so 5,000 bad items are reported before the last is read."""
    monkeypatch.setattr(localqueue, "FLUSH_AT", 100)
    monkeypatch.setattr("engine.reading.items.BLOCK_SIZE", 100)
    watch = Watch()

    async def items() -> AsyncIterator[str]:
        for k in range(ROWS):
            yield watch.row(k)
        yield "+14155550100"

    report = await send_watched(items(), watch)
    assert watch.at_last is not None
    assert watch.at_last >= ROWS - 200
    assert sorted(watch.told) == list(range(ROWS))
    assert report["totals"]["rejectedLocal"] == ROWS
