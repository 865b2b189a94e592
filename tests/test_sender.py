"""The sender on a fake transport and clock: every answer to a batch POST leads where the
retry policy says, and a POST that may have created a batch is never blindly resent."""

from __future__ import annotations

import random
from typing import Any

import pytest

from engine.batching.chunker import Chunk, Chunker
from engine.core import lifecycle
from engine.core.lifecycle import Reason
from engine.core.policy import NOT_SENT
from engine.errors import AmbiguousSendError, AuthServiceError, NotSentError
from engine.rc.client import ApiClient
from engine.rc.transport import Reply
from engine.reading import Block
from engine.run.events import ChunkFailed, ChunkSubmitted, Event
from engine.run.localqueue import LocalRejections
from engine.run.recorder import Recorder
from engine.run.report import stamp
from engine.run.resume import retryable
from engine.run.sender import RunSettings, Sender
from engine.schedule.pacing import Pacing
from tests.fakes import (
    CREDENTIALS,
    SENDER,
    TOKEN,
    Answer,
    FakeA2P,
    FakeClock,
    MockTransport,
    Request,
    reply,
    settings,
)


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


def answer_with(server: FakeA2P, body: dict[str, Any]) -> None:
    """The next POST creates its batch, then is answered 201 with ``body`` (a gateway that
    replays another answer)."""

    def replay(request: Request) -> Answer:
        server.create(request.json())
        return reply(201, body)

    server.posts.append(replay)


async def test_a_429_is_retried_after_the_budget_wait_and_then_accepted() -> None:
    """429 means not processed: the budget waits out Retry-After, a second POST, one batch."""
    h = Harness(FakeA2P(posts=[reply(429, Retry_After="7")]))
    await h.send()
    record = h.recorder.records[1]
    assert record.state == lifecycle.ACCEPTED
    assert record.attempts == 2
    assert h.posts() == 2
    assert len(h.server.batches) == 1
    assert [type(e) for e in h.events] == [ChunkSubmitted]


HTML_503 = Reply(503, {"Content-Type": "text/html"},
                 b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>")


@pytest.mark.parametrize("answer", [
    reply(503, {"errorCode": "CMN-211", "message": "Service unavailable"}),
    reply(503, {"errorCode": "CMN-211", "message": "Service unavailable"}, Retry_After="3"),
    HTML_503, reply(502), reply(500), reply(504)], ids=["json", "retry-after", "html", "502",
                                                        "500", "504"])
async def test_a_5xx_answered_after_the_batch_was_created_is_adopted_not_resent(
        answer: Reply) -> None:
    """A gateway answers 5xx (503 too) after its backend created the batch: one POST, the
    batch adopted, nobody texted twice."""
    server = FakeA2P()
    server.posts.append(server.lost(answer))
    h = Harness(server)
    await h.send()
    record = h.recorder.records[1]
    assert (record.state, record.reason) == (lifecycle.ACCEPTED, Reason.ADOPTED)
    assert h.posts() == 1
    assert len(server.batches) == 1


async def test_a_503_that_created_nothing_costs_one_window_then_is_resent_once() -> None:
    """Proved absent over the settle window, then sent again: one batch, two POSTs."""
    h = Harness(FakeA2P(posts=[reply(503, {"errorCode": "CMN-211", "message": "down"})]))
    await h.send()
    record = h.recorder.records[1]
    assert record.state == lifecycle.ACCEPTED
    assert h.posts() == 2
    assert len(h.server.batches) == 1
    assert h.clock.now - 1_790_000_000.0 >= 5.0  # the settle window passed on the clock


async def test_a_503_retry_after_holds_the_budget_back_while_it_is_reconciled() -> None:
    """Retry-After: 30 on a 503: no request of the Light group (the reconciliation's
    listings, the resend) goes out before 30 s have passed."""
    start = 1_790_000_000.0
    h = Harness(FakeA2P(posts=[reply(503, Retry_After="30")]), chunk_deadline=100.0)
    await h.send()
    posted = h.transport.sent("POST", "/batches")
    later = h.transport.requests[h.transport.requests.index(posted[0]) + 1:]
    assert later  # the listings and the second POST
    assert h.clock.now - start >= 30.0
    assert h.recorder.records[1].state == lifecycle.ACCEPTED
    assert h.posts() == 2


async def test_answers_that_keep_proving_absent_end_at_the_chunk_deadline() -> None:
    """Every POST answered 503 and nothing created: each ambiguity gets its own window, and
    once chunk_deadline has passed the chunk is failed proved-absent, with its status, and
    a resume would send it again; not max_attempts windows."""
    from engine.run.resume import retryable

    h = Harness(FakeA2P(posts=[reply(503)] * 10), chunk_deadline=10.0)
    await h.send()
    record = h.recorder.records[1]
    assert (record.state, record.reason) == (lifecycle.FAILED, Reason.PROVED_ABSENT)
    assert h.posts() == 2  # windows at 0-5 s and 5-10 s; max_attempts (6) not reached
    assert h.server.batches == {}
    assert record.error is not None
    assert record.error["status"] == 503
    assert "chunk_deadline" in (record.note or "")
    assert retryable(record.to_json())
    assert isinstance(h.events[-1], ChunkFailed)


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


class TokenEndpointDownAfterLogin(FakeA2P):
    """The first login works; every later token call answers 503."""

    logins = 0

    def __call__(self, request: Request) -> Answer:
        if request.path.startswith("/restapi/oauth/"):
            self.logins += 1
            return TOKEN if self.logins == 1 else reply(503)
        return super().__call__(request)


async def test_a_chunk_left_without_a_token_fails_as_not_sent_and_resume_resends_it() -> None:
    """A POST met 401 and no new token could be had: the run ends with AuthServiceError,
    and the chunk is recorded as not sent (a 401 created nothing), so --resume sends it."""
    h = Harness(TokenEndpointDownAfterLogin(posts=[reply(401)]), max_attempts=3)
    with pytest.raises(AuthServiceError, match="token endpoint"):
        await h.send()
    record = h.recorder.records[1]
    assert (record.state, record.reason) == (lifecycle.FAILED, Reason.GAVE_UP)
    assert record.error is not None
    assert record.error["errorCode"] == NOT_SENT
    assert retryable({"error": record.error, "reason": Reason.GAVE_UP.value})
    assert h.posts() == 1
    assert h.server.batches == {}


async def test_a_post_that_meets_401_twice_is_sent_again_and_accepted() -> None:
    """A 401 was not processed: after two in a row (new tokens each time) the same chunk is
    posted again and accepted, one batch, nothing failed."""
    h = Harness(FakeA2P(posts=[reply(401), reply(401)]))
    await h.send()
    record = h.recorder.records[1]
    assert record.state == lifecycle.ACCEPTED
    assert h.posts() == 3
    assert len(h.server.batches) == 1
    assert [type(e) for e in h.events] == [ChunkSubmitted]


async def test_a_chunk_held_off_by_429s_ends_at_the_chunk_deadline() -> None:
    """The deadline counts on every path of a batch POST: 429s every 7 s end the chunk once
    chunk_deadline has passed since its first request (3 POSTs, not max_attempts), failed
    as not sent, and a resume sends it again."""
    h = Harness(FakeA2P(posts=[reply(429, Retry_After="7")] * 10), chunk_deadline=10.0)
    await h.send()
    record = h.recorder.records[1]
    assert (record.state, record.reason) == (lifecycle.FAILED, Reason.GAVE_UP)
    assert h.posts() == 3  # at 0 s, 7 s and 14 s; the third comes after the 10 s deadline
    assert h.server.batches == {}
    assert record.error is not None
    assert record.error["status"] == 429
    assert retryable(record.to_json())


async def test_the_request_time_is_stamped_from_the_injected_wall_clock() -> None:
    """submittedAt (what a resume reckons a lost batch's creation from) is the run's wall
    clock, not this machine's: a test's clock drives it."""
    h = Harness(FakeA2P())
    sender = Sender(h.sender.run, h.sender.client, h.chunker, h.recorder,
                    sleep=h.clock.sleep, clock=h.clock, wall=h.clock)
    chunk = h.chunk(2)
    await sender.submit(chunk, h.recorder.record_for(chunk))
    record = h.recorder.records[chunk.number]
    assert record.state == lifecycle.ACCEPTED
    assert record.submitted_at == stamp(h.clock())


HTML_200 = Reply(200, {"Content-Type": "text/html"}, b"<html><body>Maintenance</body></html>")


async def test_a_gateways_html_200_that_created_nothing_is_proved_absent_and_resent() -> None:
    """A maintenance page answered 200, nothing forwarded: ambiguous, looked for, proved
    absent, sent again: one batch, every recipient once."""
    h = Harness(FakeA2P(posts=[HTML_200]))
    await h.send()
    record = h.recorder.records[1]
    assert record.state == lifecycle.ACCEPTED
    assert h.posts() == 2
    assert len(h.server.batches) == 1


async def test_a_201_cut_short_after_the_batch_was_created_is_adopted_not_resent() -> None:
    """A truncated 201: the batch exists, so it is adopted, never sent twice."""
    server = FakeA2P()

    def truncated(request: Request) -> Answer:
        made = server.create(request.json())
        return Reply(201, {"Content-Type": "application/json"}, made.body[:20])

    server.posts.append(truncated)
    h = Harness(server)
    await h.send()
    record = h.recorder.records[1]
    assert (record.state, record.reason) == (lifecycle.ACCEPTED, Reason.ADOPTED)
    assert h.posts() == 1
    assert len(server.batches) == 1


async def test_a_201_with_another_chunks_batch_is_not_taken_and_the_real_one_is_adopted(
        ) -> None:
    """A 201 replaying the first chunk's answer for the second: the id is owned, so the
    second chunk's own batch is looked for and adopted; two chunks never share a batch."""
    server = FakeA2P()
    first: list[Reply] = []

    def remember(request: Request) -> Answer:
        first.append(server.create(request.json()))
        return first[0]

    def replay(request: Request) -> Answer:
        server.create(request.json())
        return first[0]

    server.posts += [remember, replay]
    h = Harness(server)
    await h.send()
    await h.send()
    one, two = h.recorder.records[1], h.recorder.records[2]
    assert one.batch_id != two.batch_id
    assert (two.state, two.reason) == (lifecycle.ACCEPTED, Reason.ADOPTED)
    assert h.posts() == 2
    assert len(server.batches) == 2


async def test_a_201_whose_size_does_not_fit_the_chunk_is_reconciled() -> None:
    """batchSize 3 with nothing rejected for a chunk of 4: another request's answer, so the
    chunk's batch is looked for (adopted here), not taken from that answer."""
    server = FakeA2P()

    def misfit(request: Request) -> Answer:
        server.create(request.json())
        return reply(201, {"id": "other", "batchSize": 3, "rejected": []})

    server.posts.append(misfit)
    h = Harness(server)
    await h.send()
    record = h.recorder.records[1]
    assert (record.state, record.reason, record.batch_id) == \
        (lifecycle.ACCEPTED, Reason.ADOPTED, "b1")
    assert h.posts() == 1


async def test_one_attempt_is_told_in_the_singular() -> None:
    """"gave up after 1 attempt", not "1 attempts"."""
    h = Harness(FakeA2P(posts=[NotSentError("down")]), max_attempts=1)
    await h.send()
    record = h.recorder.records[1]
    assert record.error is not None
    assert record.error["message"].startswith("gave up after 1 attempt: ")


@pytest.mark.parametrize("status", [408, 403, 404])
async def test_a_gateways_4xx_page_that_created_nothing_is_proved_absent_and_resent(
        status: int) -> None:
    """A gateway's HTML 408/403/404, nothing forwarded: not a refusal; looked for, proved
    absent, and sent again: one batch."""
    page = Reply(status, {"Content-Type": "text/html"}, b"<html><h1>Not now</h1></html>")
    h = Harness(FakeA2P(posts=[page]))
    await h.send()
    assert h.recorder.records[1].state == lifecycle.ACCEPTED
    assert h.posts() == 2
    assert len(h.server.batches) == 1


async def test_a_408_after_the_batch_was_created_is_adopted_not_resent() -> None:
    """A 408 (even as JSON) may follow a creation: the batch is adopted, sent once."""
    server = FakeA2P()
    server.posts.append(server.lost(reply(408, {"errorCode": "CMN-408", "message": "late"})))
    h = Harness(server)
    await h.send()
    record = h.recorder.records[1]
    assert (record.state, record.reason) == (lifecycle.ACCEPTED, Reason.ADOPTED)
    assert h.posts() == 1


async def test_ringcentrals_own_json_4xx_refusal_stays_final() -> None:
    """A documented JSON 400 refusal fails the chunk at once, one POST, no reconciliation."""
    h = Harness(FakeA2P(posts=[reply(400, {"errorCode": "CMN-101", "message": "bad"})]))
    await h.send()
    record = h.recorder.records[1]
    assert (record.state, record.reason) == (lifecycle.FAILED, Reason.REFUSED)
    assert h.posts() == 1


async def test_an_adopted_batch_does_not_calibrate_the_server_clock() -> None:
    """A batch found by reconciliation was created long before it was read: its
    creationTime would date the server's clock early, so only a 201 calibrates it."""
    server = FakeA2P()
    server.posts.append(server.lost(AmbiguousSendError("reset")))
    h = Harness(server)
    await h.send()
    assert h.recorder.records[1].reason == Reason.ADOPTED
    assert h.sender.client.creation_offset is None
    await h.send()
    assert h.sender.client.creation_offset is not None


async def test_a_201_replaying_an_unowned_earlier_batch_is_not_taken() -> None:
    """A 201 naming a batch this run does not own (a killed process's) but created before
    the request by the calibrated clock: the chunk's own batch is adopted instead."""
    from datetime import UTC, datetime, timedelta

    server = FakeA2P()
    h = Harness(server)
    await h.send()  # a 201: the server's clock is calibrated
    orphan = server.make({"from": SENDER, "text": "Hi",
                          "messages": [{"to": [f"+1415555{k:04d}"]} for k in range(4)]})
    orphan["creationTime"] = (datetime.now(UTC) - timedelta(seconds=60)).isoformat()
    server.batches[orphan["id"]]["creationTime"] = orphan["creationTime"]

    answer_with(server, orphan)
    await h.send()
    record = h.recorder.records[2]
    assert record.batch_id != orphan["id"]
    assert (record.state, record.reason) == (lifecycle.ACCEPTED, Reason.ADOPTED)


async def test_a_resumed_runs_first_201_is_judged_by_the_journals_calibration() -> None:
    """Before this run has read any creationTime, a 201 replaying a batch a killed process
    made (not owned yet) is judged by the journal's calibration: created before the
    request, so not taken; the chunk's own batch is adopted."""
    from datetime import UTC, datetime, timedelta

    from engine.run.report import ChunkRecord

    server = FakeA2P()
    h = Harness(server)
    done = ChunkRecord(99, 900, 901, 2, 50, state=lifecycle.COMPLETED, batch_id="old")
    now = datetime.now(UTC)  # the fake server stamps real time; the fake wall is the clock
    done.submitted_at = stamp(h.clock() - 30)
    done.created = (now - timedelta(seconds=30)).isoformat()
    h.recorder.restore({99: done}, {})
    h.sender = Sender(h.sender.run, h.sender.client, h.chunker, h.recorder,
                      sleep=h.clock.sleep, clock=h.clock)
    orphan = server.make({"from": SENDER, "text": "Hi",  # another chunk's recipients
                          "messages": [{"to": [f"+1415555{k:04d}"]} for k in range(100, 104)]})
    orphan["creationTime"] = server.batches[orphan["id"]]["creationTime"] = \
        (now - timedelta(seconds=20)).isoformat()

    answer_with(server, orphan)
    await h.send()
    record = h.recorder.records[1]
    assert record.batch_id != orphan["id"]
    assert (record.state, record.reason) == (lifecycle.ACCEPTED, Reason.ADOPTED)


async def test_a_wait_for_the_budget_before_the_first_answer_is_not_the_chunks_time() -> None:
    """A chunk that waited 200 s behind other chunks' penalties before its first request went
    out, then met one 429, is sent, not failed at chunk_deadline (100 s)."""
    h = Harness(FakeA2P(posts=[reply(429, Retry_After="7")]), chunk_deadline=100.0)
    h.sender.client.light.penalize(200.0)  # the group is held back (another chunk's 429s)
    await h.send()
    record = h.recorder.records[1]
    assert record.state == lifecycle.ACCEPTED, (record.state, record.reason, h.posts())
    assert h.posts() == 2


async def test_a_chunk_a_round_holds_says_what_held_it() -> None:
    """A scheduled round's chunk met past the round's deadline, or with its recipients'
    window closed, is planned again without a POST, its note saying which (a later round
    sends it: outcomes then tells it deferred, not "the run stopped")."""
    h = Harness(FakeA2P())
    h.sender.deadline = 0.0  # long past
    chunk = h.chunk(2)
    record = h.recorder.record_for(chunk)
    await h.sender.submit(chunk, record)
    assert record.state == lifecycle.PLANNED
    assert (record.note or "").startswith("held: the round's deadline 1970-01-01T00:00:00")
    h.sender.deadline, h.sender.holds = None, lambda chunk: "held: its recipients' window"
    chunk = h.chunk(2)
    record = h.recorder.record_for(chunk)
    await h.sender.submit(chunk, record)
    assert record.state == lifecycle.PLANNED
    assert record.note == "held: its recipients' window"
    assert h.posts() == 0


async def test_a_caught_chunk_a_round_holds_says_why_not_that_the_run_stopped() -> None:
    """A chunk a run before cut, proved not created, that the round holds (the day's cap
    has no room, its window is closed) is planned again without a POST, its note the
    round's reason: outcomes tells it deferred by the cap, not "the run stopped"."""
    h = Harness(FakeA2P())
    note = "held: the day's cap (--daily-cap) has no room left for it"
    h.sender.holds = lambda chunk: note
    chunk = h.chunk(2)
    record = h.recorder.record_for(chunk)
    await h.sender.resend_caught(chunk, record)
    assert record.state == lifecycle.PLANNED
    assert record.note == note
    assert h.posts() == 0


async def test_a_round_with_nothing_of_the_journal_queued_ends_a_stall() -> None:
    """A stall measured (rate 0), then every chunk of the journal completed: the next
    round's start finds nothing that may be queued on the server, so the stall is over and
    the round paces at the assumed rate again (no poll is left to say so)."""
    h = Harness(FakeA2P())
    await h.send()
    record = h.recorder.records[1]
    pacing = Pacing(1.0)
    pacing.accepted(500, 0.0)
    pacing.observed(500, 0.0)
    pacing.observed(500, 60.0)
    assert pacing.rate == 0.0
    h.sender.pacing = pacing
    h.recorder.move(record, lifecycle.COMPLETED)
    await h.sender.execute(iter([]), LocalRejections(), [], None)
    assert pacing.rate == 1.0
    record.state = lifecycle.ACCEPTED  # one still queued: the stall holds
    pacing.observed(500, 100.0)
    pacing.observed(500, 160.0)
    await h.sender.execute(iter([]), LocalRejections(), [], None)
    assert pacing.rate == 0.0
