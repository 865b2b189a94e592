"""The tracker on fakes: accepted batches are followed to Completed, one listing answering
for many, and their status counts land in the records."""

from __future__ import annotations

from engine import lifecycle
from engine.events import BatchCompleted
from engine.tracker import Tracker
from tests.fakes import FakeA2P, reply
from tests.test_sender import Harness


async def test_an_accepted_batch_is_followed_to_completed_with_its_counts() -> None:
    """One open batch is read directly; Completed moves the record and emits the event."""
    server = FakeA2P()
    h = Harness(server)
    tracker = Tracker(h.sender)
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
    tracker = Tracker(h.sender)
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
    tracker = Tracker(h.sender)
    await h.send()
    record = h.recorder.records[1]
    failures = iter([reply(500)])

    def flaky(request):  # type: ignore[no-untyped-def]
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
    assert h.clock.slept  # the pause between polls ran on the fake clock
