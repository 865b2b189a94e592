"""The tracker on fakes: accepted batches are followed to Completed, one listing answering
for many, and their status counts land in the records."""

from __future__ import annotations

from typing import Any

import anyio

from engine.batching.chunker import Chunk
from engine.core import lifecycle
from engine.core.lifecycle import Reason
from engine.core.policy import LOST_CODE
from engine.errors import AmbiguousSendError
from engine.run.events import BatchCompleted, Rejected
from engine.run.sender import Sender
from engine.run.tracker import Tracker
from tests.fakes import Answer, FakeA2P, FakeClock, Request, reply
from tests.test_sender import Harness


async def test_an_accepted_batch_is_followed_to_completed_with_its_counts() -> None:
    """One open batch is read directly; Completed moves the record and emits the event."""
    server = FakeA2P()
    h = Harness(server)
    tracker = Tracker(h.sender.tracking)
    await h.send()
    record = h.recorder.records[1]
    tracker.add(record)
    h.sender.submitted.set()
    await tracker.follow()
    assert record.state == lifecycle.COMPLETED
    assert record.delivered == 0
    assert record.cost == 0.007
    assert len(h.transport.sent("GET", "/batches/b1")) == 1
    completed = [e for e in h.events if isinstance(e, BatchCompleted)]
    assert [e.batch_id for e in completed] == ["b1"]


async def test_many_open_batches_are_read_with_one_listing() -> None:
    """Three open batches: one GET .../batches answers for all of them."""
    h = Harness(FakeA2P())
    tracker = Tracker(h.sender.tracking)
    for _ in range(3):
        await h.send(2)
    for record in h.recorder.records.values():
        tracker.add(record)
    h.sender.submitted.set()
    await tracker.follow()
    assert all(r.state == lifecycle.COMPLETED for r in h.recorder.records.values())
    assert len(h.transport.sent("GET", "/batches")) == 1
    assert not [r for r in h.transport.requests if r.path.startswith("/batches/")]


async def test_a_failing_poll_is_noted_and_polled_again_on_the_fake_clock() -> None:
    """A listing that fails every try notes the error; the next round succeeds."""
    server = FakeA2P()
    h = Harness(server, max_attempts=1)
    tracker = Tracker(h.sender.tracking)
    await h.send()
    record = h.recorder.records[1]
    failures = iter([reply(500)])

    def flaky(request: Request) -> Answer:
        if request.path == "/batches/b1":
            answer = next(failures, None)
            if answer is not None:
                return answer
        return server(request)

    h.transport._handler = flaky
    tracker.add(record)
    h.sender.submitted.set()
    await tracker.follow()
    assert record.state == lifecycle.COMPLETED
    assert len(h.transport.sent("GET", "/batches/b1")) == 2
    # on the fake clock: after the failed poll the pause doubles the 1 s interval, after the
    # one that completes it is the interval again
    assert h.clock.slept == [2.0, 1.0]


def lost_with_rejections(server: FakeA2P, refused: set[str]) -> Any:
    """A POST whose batch is created without the ``refused`` recipients (the server's
    rejections), and whose answer, that listed them, is lost."""
    def handle(request: Request) -> Any:
        body = request.json()
        server.make({**body, "messages": [m for m in body["messages"]
                                          if m["to"][0] not in refused]})
        return AmbiguousSendError("reset")

    return handle


def lagging_store(server: FakeA2P, clock: FakeClock, per_second: float) -> Any:
    """GET .../messages lists a batch's messages one by one as the fake clock goes: one at
    once, then ``per_second`` more each second (a store that lags Completed)."""
    began = clock.now

    def handle(request: Request) -> Any:
        if request.method == "GET" and request.path == "/messages":
            found = server.messages.get(request.params.get("batchId", ""), [])
            shown = 1 + int((clock.now - began) * per_second)
            return reply(200, {"records": found[:shown], "paging": {}})
        return server(request)

    return handle


async def adopted_with_lagging_store(store_window: float) -> tuple[Harness, set[int]]:
    """Ten recipients, two rejected by the server, the answer lost, the batch adopted while
    its store lists one message a second; then followed to Completed."""
    server = FakeA2P()
    h = Harness(server, store_window=store_window)
    tos = [f"+1415555{k:04d}" for k in range(10)]
    server.posts.append(lost_with_rejections(server, {tos[3], tos[7]}))
    h.transport._handler = lagging_store(server, h.clock, per_second=1.0)
    await h.send(10)
    record = h.recorder.records[1]
    assert (record.state, record.reason) == (lifecycle.ACCEPTED, Reason.ADOPTED)
    tracker = Tracker(h.sender.tracking)
    tracker.add(record)
    h.sender.submitted.set()
    await tracker.follow()
    return h, {3, 7}


async def test_a_lagging_store_is_read_until_complete_and_only_true_rejections_count() -> None:
    """The store lists the batch over seconds after Completed: the two recipients the server
    refused are reported rejected, the eight texted are counted sent, none pending."""
    start = FakeClock().now
    h, refused = await adopted_with_lagging_store(store_window=60.0)
    record = h.recorder.records[1]
    assert (record.state, record.reason, record.pending) == \
        (lifecycle.COMPLETED, Reason.RECOVERED, None)
    aggregator = h.recorder.aggregator
    assert {r.index for r in aggregator.rejections()} == refused
    assert all(r.error_code == LOST_CODE for r in aggregator.rejections())
    assert (aggregator.sent, aggregator.rejected_server, aggregator.pending) == (8, 2, 0)
    assert {e.index for e in h.events if isinstance(e, Rejected)} == refused
    # one listing while adopting, then five reads of the store on the fake clock, backing off
    # (at 0, 1.5, 2.5, 4.5 and 8.5 s), none once it listed the whole batch
    assert len(h.transport.sent("GET", "/messages")) == 6
    assert h.clock.now - start == 8.5


async def test_a_store_incomplete_when_the_window_ends_leaves_recipients_pending() -> None:
    """Window of 3 s, store complete only after 8: nobody is reported rejected; those not
    listed yet are pending, those listed are sent, and the chunk says what to do."""
    h, _ = await adopted_with_lagging_store(store_window=3.0)
    record = h.recorder.records[1]
    assert (record.state, record.reason) == (lifecycle.COMPLETED, Reason.PENDING)
    aggregator = h.recorder.aggregator
    assert aggregator.rejections() == []
    assert aggregator.sent + aggregator.pending == 10
    # the store's last read in the window listed four: six pending, not the two refused
    assert (aggregator.sent, aggregator.pending, record.pending) == (4, 6, 6)
    assert record.note is not None
    assert "pending" in record.note
    assert "later" in record.note


async def test_a_pending_chunk_followed_again_settles_once_the_store_is_complete() -> None:
    """As a resume does: the pending chunk reopened and followed again, the store complete
    now: pending goes to zero, exactly the two refused are rejected, eight sent."""
    h, refused = await adopted_with_lagging_store(store_window=3.0)
    record = h.recorder.records[1]
    chunk = h.chunk(10)

    async def rebuild(number: int) -> Chunk:
        return Chunk(number, chunk.body, chunk.size, chunk.index)

    # as a resume does: a new sender for the same records, whose input (a file) is read again
    resumed = Sender(h.sender.run, h.sender.client, h.chunker, h.recorder, rebuild=rebuild,
                     sleep=h.clock.sleep, clock=h.clock)
    resumed.submitted.set()  # nothing else to send: the tracker ends with its last batch
    h.clock.advance(60.0)  # the store has caught up
    record.reopen()
    tracker = Tracker(resumed.tracking)
    tracker.add(record)
    await tracker.follow()
    aggregator = h.recorder.aggregator
    assert (record.state, record.reason, record.pending) == \
        (lifecycle.COMPLETED, Reason.RECOVERED, None)
    assert {r.index for r in aggregator.rejections()} == refused
    assert (aggregator.sent, aggregator.rejected_server, aggregator.pending) == (8, 2, 0)


async def test_a_pending_chunk_that_cannot_be_read_again_counts_only_the_batch_as_sent() -> None:
    """Input not readable again (stdin): nobody can be named, so the batch's eight accepted
    messages are sent and the other two stay pending, never counted sent."""
    h, _ = await adopted_with_lagging_store(store_window=3.0)
    record = h.recorder.records[1]
    h.clock.advance(60.0)
    record.reopen()
    tracker = Tracker(h.sender.tracking)
    tracker.add(record)
    await tracker.follow()
    aggregator = h.recorder.aggregator
    assert (record.state, record.reason, record.pending) == \
        (lifecycle.COMPLETED, Reason.PENDING, 2)
    assert (aggregator.sent, aggregator.rejected_server, aggregator.pending) == (8, 0, 2)
    assert record.note is not None
    assert "a2p outcomes" in record.note


async def test_an_adopted_batch_not_followed_counts_only_its_accepted_messages_sent() -> None:
    """--wait accepted (no tracking): the batch holds eight of ten, so eight are sent and two
    pending until its store is read; nobody is counted sent unproven."""
    server = FakeA2P()
    h = Harness(server)
    tos = [f"+1415555{k:04d}" for k in range(10)]
    server.posts.append(lost_with_rejections(server, {tos[3], tos[7]}))
    await h.send(10)
    record = h.recorder.records[1]
    aggregator = h.recorder.aggregator
    assert (record.state, record.reason, record.pending) == \
        (lifecycle.ACCEPTED, Reason.ADOPTED, 2)
    assert (aggregator.sent, aggregator.pending, aggregator.rejected_server) == (8, 2, 0)


async def test_a_store_being_read_again_does_not_hold_up_the_other_batches() -> None:
    """While the adopted batch's lagging store is read again, another batch is followed to
    Completed: its batch_completed comes first."""
    server = FakeA2P()
    h = Harness(server, store_window=60.0)
    tos = [f"+1415555{k:04d}" for k in range(10)]
    server.posts.append(lost_with_rejections(server, {tos[3]}))
    h.transport._handler = lagging_store(server, h.clock, per_second=0.5)
    await h.send(10)
    tracker = Tracker(h.sender.tracking)
    tracker.add(h.recorder.records[1])

    async def later() -> None:
        await h.clock.sleep(2.0)  # the other chunk is accepted once the first is settling
        await h.send(3)
        tracker.add(h.recorder.records[2])
        h.sender.submitted.set()

    async with anyio.create_task_group() as group:
        group.start_soon(later)
        await tracker.follow()
    done = [e.chunk for e in h.events if isinstance(e, BatchCompleted)]
    assert done == [2, 1]
    assert {r.index for r in h.recorder.aggregator.rejections()} == {3}


async def test_a_batch_accepted_after_hours_of_posting_gets_its_own_polling_time() -> None:
    """The polling timeout counts from each batch's acceptance: a run whose reading and POSTs
    outlast it still follows its batch to Completed instead of giving it up unpolled."""
    h = Harness(FakeA2P())
    tracker = Tracker(h.sender.tracking)

    async def post_late() -> None:
        h.clock.advance(h.sender.tracking.polling.timeout + 3600)  # hours of reading
        await h.send()
        tracker.add(h.recorder.records[1])
        h.sender.submitted.set()

    async with anyio.create_task_group() as group:
        group.start_soon(tracker.follow)
        await post_late()
    record = h.recorder.records[1]
    assert record.state == lifecycle.COMPLETED, record.note
    assert record.note is None


async def test_each_poll_tells_how_many_messages_are_not_processed_yet() -> None:
    """The on_poll hook (a scheduled round's pacing) hears each poll's unprocessed count of
    the open batches: 0 once the three are completed."""
    h = Harness(FakeA2P())
    tracker = Tracker(h.sender.tracking)
    heard: list[int] = []
    tracker.on_poll = heard.append
    for _ in range(3):
        await h.send(2)
    for record in h.recorder.records.values():
        tracker.add(record)
    h.sender.submitted.set()
    await tracker.follow()
    assert heard == [0]


async def test_a_batch_timed_out_still_queued_stays_in_the_polls_sum() -> None:
    """A batch the polling timeout gives up while the server still processes it keeps its
    unprocessed messages in each later poll's sum (the pacing's queue), and the pacing is told
    to start a new span instead of counting it as processed."""
    server = FakeA2P()
    h = Harness(server)

    def stuck(request: Request) -> Answer:  # b1 never completes: 1 of its 4 processed
        if request.method != "GET" or request.path not in ("/batches/b1", "/batches"):
            return server(request)
        b1 = {**server.batches["b1"], "processedCount": 1, "status": "Processing"}
        if request.path == "/batches/b1":
            return reply(200, b1)
        # the listing: b2 done, b1 still processing
        return reply(200, {"records": [b1, {**server.batches["b2"], "status": "Completed"}],
                           "paging": {}})

    h.transport._handler = stuck
    tracker = Tracker(h.sender.tracking)
    heard: list[int] = []
    rebased: list[bool] = []
    tracker.on_poll = heard.append
    tracker.on_rebase = lambda: rebased.append(True)
    await h.send()
    tracker.add(h.recorder.records[1])

    await h.send(2)

    async def post_late() -> None:
        h.clock.advance(h.sender.tracking.polling.timeout + 1)  # b1's polling time is over
        tracker.add(h.recorder.records[2])
        h.sender.submitted.set()

    async with anyio.create_task_group() as group:
        group.start_soon(tracker.follow)
        await post_late()
    first, second = h.recorder.records[1], h.recorder.records[2]
    assert first.state == lifecycle.ACCEPTED
    assert first.note is not None
    assert second.state == lifecycle.COMPLETED
    assert heard[-1] == 3  # b2 done, b1 still queued on the server: 3 of its 4 left
    assert tracker.stale == {"b1": 3}
    assert rebased == [True]


async def test_a_processed_count_read_lower_later_is_not_taken() -> None:
    """A lagging replica answers a lower processedCount after a higher one: the record keeps
    the higher, so the pacing never counts the same messages processed twice (adv29 F4)."""
    server = FakeA2P()
    h = Harness(server)
    counts = iter([3, 1])

    def lagging(request: Request) -> Answer:
        if request.method == "GET" and request.path == "/batches/b1":
            count = next(counts, None)
            if count is not None:
                return reply(200, {**server.batches["b1"], "processedCount": count,
                                   "status": "Processing"})
        return server(request)

    h.transport._handler = lagging
    tracker = Tracker(h.sender.tracking)
    heard: list[int] = []
    tracker.on_poll = heard.append
    await h.send()
    tracker.add(h.recorder.records[1])
    h.sender.submitted.set()
    await tracker.follow()
    assert heard == [1, 1, 0]
    assert h.recorder.records[1].state == lifecycle.COMPLETED
