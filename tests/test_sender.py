"""The sender on a fake transport and clock: every answer to a batch POST leads where the
retry policy says, and a POST that may have created a batch is never blindly resent."""

from __future__ import annotations

import random
from typing import Any

from engine import lifecycle
from engine.chunker import Chunk, Chunker
from engine.client import ApiClient
from engine.errors import AmbiguousSendError, NotSentError
from engine.events import ChunkFailed, ChunkSubmitted, Event
from engine.lifecycle import Reason
from engine.reading import Block
from engine.recorder import Recorder
from engine.sender import RunSettings, Sender
from tests.fakes import CREDENTIALS, SENDER, FakeA2P, FakeClock, MockTransport, reply, settings


class Harness:
    def __init__(self, server: FakeA2P, on_ambiguous: str = "reconcile",
                 **retry: Any) -> None:
        self.clock = FakeClock()
        self.server = server
        self.transport = MockTransport(server)
        config = settings(reconcile_window=5.0, **retry)
        client = ApiClient(config, CREDENTIALS, self.transport, clock=self.clock,
                           sleep=self.clock.sleep, rng=random.Random(3), wall=self.clock)
        self.events: list[Event] = []
        self.recorder = Recorder(self.emit)
        self.chunker = Chunker(SENDER, "Hi", 10_000)
        self.sender = Sender(RunSettings(config, SENDER, "Hi", on_ambiguous), client,
                             self.chunker, self.recorder, sleep=self.clock.sleep,
                             clock=self.clock)

    async def emit(self, event: Event) -> None:
        self.events.append(event)

    def chunk(self, n: int) -> Chunk:
        tos = [f"+1415555{k:04d}" for k in range(n)]
        (made,) = self.chunker.chunks([Block(tos=tos, positions=list(range(n)))])
        return made

    async def send(self, n: int = 4) -> Chunk:
        chunk = self.chunk(n)
        await self.sender.submit(chunk, self.recorder.record_for(chunk))
        return chunk

    def posts(self) -> int:
        return len(self.transport.sent("POST", "/batches"))


async def test_a_503_is_retried_after_a_backoff_and_then_accepted() -> None:
    """503 means not processed: one backoff, a second POST, one batch."""
    h = Harness(FakeA2P(posts=[reply(503)]))
    await h.send()
    record = h.recorder.records[1]
    assert record.state == lifecycle.ACCEPTED
    assert record.attempts == 2
    assert h.posts() == 2
    assert len(h.server.batches) == 1
    assert len(h.clock.slept) == 1
    assert [type(e) for e in h.events] == [ChunkSubmitted]


async def test_a_refused_chunk_fails_at_once_with_the_servers_code() -> None:
    """A 400 is not retried; the chunk_failed event carries RingCentral's error."""
    h = Harness(FakeA2P(posts=[reply(400, {"errorCode": "CMN-101", "message": "bad from"})]))
    await h.send()
    record = h.recorder.records[1]
    assert (record.state, record.reason) == (lifecycle.FAILED, Reason.REFUSED)
    assert record.error == {"status": 400, "errorCode": "CMN-101", "message": "bad from"}
    assert h.posts() == 1
    assert isinstance(h.events[0], ChunkFailed)
    assert h.events[0].status == "failed"


async def test_a_413_splits_the_chunk_into_halves_numbered_by_the_chunker() -> None:
    """The halves get the chunker's next numbers and the limit drops for the rest."""
    h = Harness(FakeA2P(posts=[reply(413)]))
    chunk = await h.send(4)
    assert h.recorder.records[1].state == lifecycle.SPLIT
    assert [h.recorder.records[n].count for n in (2, 3)] == [2, 2]
    assert h.chunker.max_bytes == max(1024, len(chunk.body) // 2)
    assert h.chunker.new_number() == 4  # the next chunk read cannot collide with a half


async def test_no_connection_is_resent_and_attempts_run_out_into_a_failure() -> None:
    """NOT-SENT is certainly not processed: retried up to the attempt limit, then failed."""
    h = Harness(FakeA2P(posts=[NotSentError("down")] * 3), max_attempts=3)
    await h.send()
    record = h.recorder.records[1]
    assert (record.state, record.reason) == (lifecycle.FAILED, Reason.GAVE_UP)
    assert record.error is not None
    assert record.error["message"].startswith("gave up after 3 attempts")
    assert h.posts() == 3


async def test_a_500_on_the_post_is_never_resent_when_told_to_fail() -> None:
    """on_ambiguous=fail: a 500 leaves the chunk unknown after one POST."""
    h = Harness(FakeA2P(posts=[reply(500)]), on_ambiguous="fail")
    await h.send()
    assert h.recorder.records[1].state == lifecycle.UNKNOWN
    assert h.posts() == 1


async def test_a_lost_answer_whose_batch_exists_is_adopted_not_resent() -> None:
    """The request created the batch and the answer was lost: reconciliation finds it."""
    server = FakeA2P()
    server.posts.append(server.lost(AmbiguousSendError("reset")))
    h = Harness(server)
    await h.send()
    record = h.recorder.records[1]
    assert (record.state, record.reason) == (lifecycle.ACCEPTED, Reason.ADOPTED)
    assert record.batch_id == "b1"
    assert h.posts() == 1
    assert len(server.batches) == 1


async def test_a_lost_answer_proved_absent_is_sent_again_once() -> None:
    """No batch appears within the window: absent, so the chunk goes out again."""
    h = Harness(FakeA2P(posts=[AmbiguousSendError("reset")]))
    await h.send()
    assert h.recorder.records[1].state == lifecycle.ACCEPTED
    assert h.posts() == 2
    assert h.clock.now - 1_790_000_000.0 >= 5.0  # the settle window passed on the clock
