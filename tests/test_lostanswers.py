"""The lost-answer path on its own, on a fake server and clock, with a fake sender behind its
Outlet: a batch the lost request made is adopted, one proved absent goes back to be sent
again, anything else is left unknown, and the journal sees only where each chunk ends."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from engine.batching.chunker import Chunk, Chunker
from engine.core import lifecycle
from engine.core.lifecycle import Reason
from engine.core.policy import LOST_CODE
from engine.core.rejections import SERVER
from engine.rc.client import ApiClient
from engine.rc.transport import Reply
from engine.reading import Block
from engine.run.events import ChunkFailed, Event
from engine.run.journal import Journal
from engine.run.lostanswers import LostAnswers
from engine.run.options import RunSettings
from engine.run.recorder import Recorder
from engine.run.report import ChunkRecord
from engine.run.storerecovery import lost_rejections, needs_recovery
from tests.fakes import CREDENTIALS, SENDER, FakeA2P, FakeClock, MockTransport, settings


class Lab:
    """LostAnswers with a journal on disk; this object is the sender behind its Outlet."""

    def __init__(self, tmp_path: Path, server: FakeA2P, on_ambiguous: str = "reconcile"
                 ) -> None:
        self.clock = FakeClock()
        self.server = server
        self.transport = MockTransport(server)
        config = settings(reconcile_window=5.0)
        self.client = ApiClient(config, CREDENTIALS, self.transport, clock=self.clock,
                                sleep=self.clock.sleep, rng=random.Random(3), wall=self.clock)
        self.path = tmp_path / "journal"
        self.events: list[Event] = []
        self.recorder = Recorder(self.emit, journal=Journal.create(self.path, {"runId": "r"}))
        self.chunker = Chunker(SENDER, "Hi", 10_000)
        self.accepted: list[str] = []
        self.resent: list[int] = []
        self.lost = LostAnswers(RunSettings(config, SENDER, "Hi", on_ambiguous), self.client,
                                self.recorder, self, stopping=anyio.Event(), rebuild=None,
                                sleep=self.clock.sleep, clock=self.clock, wall=self.clock)

    async def emit(self, event: Event) -> None:
        self.events.append(event)

    # the Outlet: what a real Sender does, reduced to what the lost-answer path needs
    async def accept(self, chunk: Chunk, record: ChunkRecord, body: Any) -> None:
        record.batch_id, record.batch_size = body["id"], body["batchSize"]
        self.recorder.move(record, lifecycle.ACCEPTED)
        self.accepted.append(body["id"])

    async def resend(self, chunk: Chunk, record: ChunkRecord) -> None:
        self.resent.append(record.number)

    async def resend_caught(self, chunk: Chunk, record: ChunkRecord) -> None:
        await self.resend(chunk, record)

    async def gave_up_absent(self, record: ChunkRecord, reply: Reply | None) -> bool:
        return False

    def in_flight(self, n: int = 4) -> tuple[Chunk, ChunkRecord]:
        """A chunk whose request went out ("submitting" on disk) and got no answer."""
        tos = [f"+1415555{k:04d}" for k in range(n)]
        (chunk,) = self.chunker.chunks([Block(tos=tos, positions=list(range(10, 10 + n)))])
        record = self.recorder.record_for(chunk)
        self.recorder.move(record, lifecycle.SUBMITTING)
        return chunk, record

    def created(self, chunk: Chunk) -> str:
        """The server holds the batch the chunk's lost request made."""
        return str(self.server.make(orjson.loads(chunk.data))["id"])

    def journaled(self, number: int) -> list[str]:
        """Every state the journal was told for chunk ``number``, in order."""
        entries = [orjson.loads(line) for line in self.path.read_bytes().splitlines()]
        return [e["status"] for e in entries if e["type"] == "state" and e["chunk"] == number]

    def reads(self) -> int:
        return len([r for r in self.transport.requests if r.method == "GET"
                    and not r.path.startswith("/restapi/")])


Labs = Callable[..., Lab]


@pytest.fixture
def labs(tmp_path: Path) -> Iterator[Labs]:
    """Makes a Lab; its journal is closed when the test ends."""
    made: list[Lab] = []

    def make(server: FakeA2P, on_ambiguous: str = "reconcile") -> Lab:
        made.append(Lab(tmp_path, server, on_ambiguous))
        return made[-1]

    yield make
    for lab in made:
        lab.recorder.close()


async def test_a_batch_the_lost_request_made_is_adopted_and_never_resent(

        labs: Labs) -> None:
    """Found on the server: handed to the sender as accepted, marked adopted, never resent."""
    lab = labs(FakeA2P())
    chunk, record = lab.in_flight()
    since = lab.client.server_now()
    batch_id = lab.created(chunk)
    assert await lab.lost.settle(chunk, record, since=since) is True
    assert lab.accepted == [batch_id]
    assert (record.state, record.reason, record.adopted) == \
        (lifecycle.ACCEPTED, Reason.ADOPTED, True)
    assert needs_recovery(record) is True
    assert lab.resent == []


async def test_a_batch_proved_absent_goes_back_to_be_sent_with_nothing_journaled(
        labs: Labs) -> None:
    """Nothing on the server: settle says "may be resent" and leaves the state to the sender."""
    lab = labs(FakeA2P())
    chunk, record = lab.in_flight()
    assert await lab.lost.settle(chunk, record, since=lab.client.server_now()) is False
    assert lab.accepted == []
    assert record.state == lifecycle.SUBMITTING
    assert lab.journaled(record.number) == ["submitting"]
    assert lab.transport.sent("GET", "/batches") != []  # it looked before saying so


async def test_told_to_fail_a_lost_answer_is_unknown_and_the_journal_skips_the_transient(
        labs: Labs) -> None:
    """on_ambiguous=fail: unknown at once, told as chunk_failed; the journal goes from
    submitting straight to unknown (ambiguous is passed in memory only), nothing is read."""
    lab = labs(FakeA2P(), on_ambiguous="fail")
    chunk, record = lab.in_flight()
    assert await lab.lost.settle(chunk, record) is True
    assert record.state == lifecycle.UNKNOWN
    assert lab.journaled(record.number) == ["submitting", "unknown"]
    failed = [e for e in lab.events if isinstance(e, ChunkFailed)]
    assert failed == lab.events
    assert [(e.chunk, e.status) for e in failed] == [(record.number, lifecycle.UNKNOWN)]
    assert lab.reads() == 0


async def test_told_to_resend_a_lost_answer_is_not_looked_for(labs: Labs) -> None:
    """on_ambiguous=resend: back to the sender at once, without a single read."""
    lab = labs(FakeA2P(), on_ambiguous="resend")
    chunk, record = lab.in_flight()
    lab.created(chunk)
    assert await lab.lost.settle(chunk, record) is False
    assert (lab.accepted, lab.reads()) == ([], 0)


async def test_an_in_flight_chunk_of_a_stream_is_left_unknown_in_one_journal_entry(
        labs: Labs) -> None:
    """A resumed run cannot read a stream again: the chunk is unknown, not reconcilable, and
    the journal gets only that final state."""
    lab = labs(FakeA2P())
    _, record = lab.in_flight()
    await lab.lost.recover({"chunk": record.number})
    assert (record.state, record.reason) == (lifecycle.UNKNOWN, Reason.NOT_REREADABLE)
    assert lab.journaled(record.number) == ["submitting", "unknown"]


async def test_an_in_flight_chunk_is_adopted_or_sent_again_by_what_the_server_holds(
        labs: Labs) -> None:
    """In flight at a stop: the one whose batch exists is adopted, the other is resent."""
    lab = labs(FakeA2P())
    made, made_record = lab.in_flight()
    absent, absent_record = lab.in_flight(3)
    lab.created(made)
    await lab.lost.recover(made)
    await lab.lost.recover(absent)
    assert made_record.state == lifecycle.ACCEPTED
    assert lab.resent == [absent_record.number]
    assert absent_record.error is not None
    assert absent_record.error["message"] == "in flight when the run stopped"


async def test_a_parked_lost_answer_is_journaled_ambiguous_and_reconciled_beside(
        labs: Labs) -> None:
    """Parked: "ambiguous" is on disk while it is looked for; proved absent, it is handed
    back to be sent again before the reconciling group ends."""
    lab = labs(FakeA2P())
    chunk, record = lab.in_flight()
    assert lab.lost.can_park is False  # no group yet: reconciled in the worker
    async with lab.lost.reconciling():
        assert lab.lost.can_park is True
        await lab.lost.park(chunk, record, lab.client.sent_at())
        assert lab.journaled(record.number) == ["submitting", "ambiguous"]
    assert lab.lost.can_park is False
    assert lab.resent == [record.number]


async def test_a_batch_already_owned_by_another_chunk_is_not_adopted_again(
        labs: Labs) -> None:
    """Two chunks with the same recipients: the batch one made is not the other's."""
    lab = labs(FakeA2P())
    first, first_record = lab.in_flight()
    second, second_record = lab.in_flight()
    since = lab.client.server_now()
    lab.created(first)
    assert await lab.lost.settle(first, first_record, since=since) is True
    assert await lab.lost.settle(second, second_record, since=since) is False
    assert len(lab.accepted) == 1


def test_lost_rejections_name_the_recipients_at_their_input_positions() -> None:
    """Indexes 2 and 4 of a chunk are its second and fourth recipients, as server
    rejections with the lost-answer code and the batch id."""
    (chunk,) = Chunker(SENDER, "Hi", 10_000).chunks(
        [Block(tos=[f"+1415555000{k}" for k in range(5)], positions=[3, 5, 8, 13, 21])])
    found = lost_rejections(chunk, (2, 4), "b9")
    assert [(r.index, r.to, r.error_code, r.batch_id, r.source) for r in found] == [
        (5, "+14155550001", LOST_CODE, "b9", SERVER),
        (13, "+14155550003", LOST_CODE, "b9", SERVER)]


def test_only_an_adopted_or_pending_batch_needs_its_rejections_read_back() -> None:
    """A batch accepted with its answer has its rejections; so has one without an id."""
    record = ChunkRecord(1, 0, 3, 4, 100)
    record.batch_id = "b1"
    assert needs_recovery(record) is False
    for reason in (Reason.ADOPTED, Reason.PENDING):
        record.reason = reason
        assert needs_recovery(record) is True
    record.batch_id = None
    assert needs_recovery(record) is False
