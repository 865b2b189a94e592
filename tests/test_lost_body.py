"""A lost answer whose spooled body is gone (or changed) by the time it is looked for: the
request went out, so a batch may exist. The run goes on; the chunk is reconciled from the
input read again when that gives the very records it held, else left unknown with a note that
says so, never an error claiming no batch was made, and never sent again blind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.batching.chunker import Chunk, Chunker
from engine.core import lifecycle
from engine.core.lifecycle import Reason
from engine.reading import Block
from engine.run.bodyspool import SUFFIX, BodySpool
from engine.run.lostanswers import LostAnswers
from engine.run.options import RunSettings
from engine.run.report import ChunkRecord
from engine.run.storerecovery import Rebuild
from tests.fakes import SENDER, FakeA2P, settings
from tests.test_lostanswers import Lab, Labs, labs

__all__ = ["labs"]  # the fixture, shared

TOS = [f"+1415555{k:04d}" for k in range(6)]


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[BodySpool]:
    with BodySpool(tmp_path / f"run{SUFFIX}") as made:
        yield made


def _blocks(tos: list[str]) -> list[Block]:
    return [Block(tos=tos, positions=list(range(10, 10 + len(tos))))]


def _sent(lab: Lab, spool: BodySpool, rebuild: Rebuild | None) -> tuple[Chunk, ChunkRecord]:
    """A spooled chunk whose request went out and got no answer; ``rebuild``: the input read
    again (None: a stream)."""
    lab.lost = LostAnswers(RunSettings(settings(reconcile_window=5.0), SENDER, "Hi"),
                           lab.client, lab.recorder, lab, stopping=lab.lost._stopping,
                           rebuild=rebuild, sleep=lab.clock.sleep, clock=lab.clock,
                           wall=lab.clock)
    (chunk,) = Chunker(SENDER, "Hi", 10_000, sinks=spool.sink).chunks(_blocks(TOS))
    record = lab.recorder.record_for(chunk)
    lab.recorder.move(record, lifecycle.SUBMITTING)
    return chunk, record


def _rebuild_giving(tos: list[str]) -> Rebuild:
    async def rebuild(number: int) -> Chunk:
        (again,) = Chunker(SENDER, "Hi", 1 << 40).chunks(_blocks(tos))
        return Chunk(number, again.body, again.size, again.index, None, again.digest)
    return rebuild


def _gone(spool: BodySpool) -> None:
    for path in spool.files():  # a temp cleaner, a user
        path.unlink()


async def test_a_stream_s_lost_answer_whose_body_is_gone_is_unknown_and_said_so(
        labs: Labs, spool: BodySpool) -> None:
    """Stream input, its batch created, its body file removed before it is looked for: the
    chunk is unknown (it may have been created), never resent, and its note says so."""
    lab = labs(FakeA2P())
    chunk, record = _sent(lab, spool, None)
    lab.created(chunk)
    _gone(spool)
    async with lab.lost.reconciling():
        await lab.lost.park(chunk, record, lab.client.sent_at())
    assert (record.state, record.reason) == (lifecycle.UNKNOWN, Reason.NOT_REREADABLE)
    assert record.note is not None
    assert "may have been created" in record.note
    assert "no batch was made" not in record.note
    assert (lab.resent, lab.accepted) == ([], [])
    assert lab.journaled(record.number) == ["submitting", "ambiguous", "unknown"]


async def test_a_file_s_lost_answer_whose_body_is_gone_is_found_from_the_input(
        labs: Labs, spool: BodySpool) -> None:
    """File input, its batch created, its body file removed: the input read again gives the
    records the chunk held, and the batch is found and adopted, never resent."""
    lab = labs(FakeA2P())
    chunk, record = _sent(lab, spool, _rebuild_giving(TOS))
    batch_id = lab.created(chunk)
    _gone(spool)
    async with lab.lost.reconciling():
        await lab.lost.park(chunk, record, lab.client.sent_at())
    assert (record.state, record.reason, lab.accepted) == \
        (lifecycle.ACCEPTED, Reason.ADOPTED, [batch_id])
    assert lab.resent == []


async def test_a_file_that_now_gives_other_records_leaves_the_chunk_unknown(
        labs: Labs, spool: BodySpool) -> None:
    """File input changed since the chunk was cut, its body file removed: what the request
    held cannot be told, so it is unknown for a resume to look again, never resent."""
    lab = labs(FakeA2P())
    chunk, record = _sent(lab, spool, _rebuild_giving([*TOS[:-1], "+14155559999"]))
    _gone(spool)
    async with lab.lost.reconciling():
        await lab.lost.park(chunk, record, lab.client.sent_at())
    assert (record.state, record.reason) == (lifecycle.UNKNOWN, Reason.NOT_RECONCILED)
    assert record.note is not None
    assert "body could not be read back" in record.note
    assert "other records" in record.note
    assert lab.resent == []


async def test_a_changed_body_in_the_worker_s_reconciliation_is_unknown_and_said_so(
        labs: Labs, spool: BodySpool) -> None:
    """Reconciled in the worker (no group), a body changed on disk: unknown, with a note
    that does not claim the request was not sent."""
    lab = labs(FakeA2P())
    chunk, record = _sent(lab, spool, None)
    (path,) = spool.files()
    path.write_bytes(path.read_bytes().replace(b"+1415", b"+1416"))
    assert await lab.lost.settle(chunk, record, sent=lab.client.sent_at()) is True
    assert record.state == lifecycle.UNKNOWN
    assert record.note is not None
    assert "changed on disk" in record.note
    assert "no batch was made" not in record.note
    assert lab.resent == []


@pytest.mark.parametrize("from_file", [True, False])
async def test_a_run_whose_lost_answer_s_body_is_removed_goes_on_truthfully(
        tmp_path: Path, from_file: bool) -> None:
    """A whole run: the batch is created, the answer lost and the body file removed. It ends
    without an error; from a file the batch is found and adopted (every recipient sent once,
    one POST), from a list the chunk is unknown and nothing is counted sent."""
    import engine
    from engine.errors import AmbiguousSendError
    from engine.run.options import SendOptions
    from tests.fakes import CREDENTIALS, FakeClock, MockTransport, Request

    journal = tmp_path / "run.journal"
    fake = FakeA2P()

    def created_then_body_gone(request: Request) -> AmbiguousSendError:
        fake.make(request.json())
        for path in Path(f"{journal}{SUFFIX}").iterdir():
            path.unlink()
        return AmbiguousSendError("POST: no answer (test)")

    fake.posts.append(created_then_body_gone)
    source = tmp_path / "list.txt"
    source.write_text("".join(f"{to}\n" for to in TOS))
    clock = FakeClock()
    options = SendOptions(sender=SENDER, text="Hi", config=settings(reconcile_window=5.0),
                          credentials=CREDENTIALS, transport=MockTransport(fake), clock=clock,
                          sleep=clock.sleep, preflight=False, consent=False,
                          report=str(tmp_path / "r.json"), journal=str(journal),
                          wait="accepted")
    report = await engine.send(str(source) if from_file else list(TOS), options)
    assert len(fake.batches) == 1
    totals = report["totals"]
    if from_file:
        assert (totals["sent"], totals["unknownChunks"], totals["adoptedChunks"]) == \
            (len(TOS), 0, 1)
    else:
        assert (totals["sent"], totals["unknownChunks"]) == (0, 1)
        assert "may have been created" in (report["batches"][0]["note"] or "")


async def test_an_adopted_batch_whose_body_is_gone_leaves_its_absent_recipients_pending(
        labs: Labs, spool: BodySpool) -> None:
    """A stream's chunk adopted after a lost answer, its body file removed before its store
    is read back: the recipients its batch does not hold stay pending (neither sent nor
    rejected), said in its note, and the run goes on."""
    lab = labs(FakeA2P())
    chunk, record = _sent(lab, spool, None)
    batch_id = lab.created(chunk)
    lab.server.batches[batch_id]["batchSize"] = len(TOS) - 1  # the server rejected one
    assert await lab.lost.settle(chunk, record, sent=lab.client.sent_at()) is True
    del chunk  # the lost-answer path holds it now, to read its rejections back
    _gone(spool)
    await lab.lost.recover_rejections(record)
    assert (record.reason, record.pending) == (Reason.PENDING, 1)
    assert record.note is not None
    assert "body could not be read back" in record.note
