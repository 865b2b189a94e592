"""The opt-outs kept within --max-consent-age while a run sends (engine/run/consentrefresh.py),
without a server: workers past the max age at once share one read, 0 reads before every
batch, a read that fails stops the run and says how to finish it, and a chunk cut before a
read that changed the set is screened, its suppressed recipients never in what is POSTed."""

from __future__ import annotations

from pathlib import Path

import anyio
import orjson

from engine.batching.chunker import Chunker
from engine.core.consent import OptOut
from engine.core.rejections import OPTED_OUT
from engine.errors import ConsentError, RequestRejectedError
from engine.reading import Block
from engine.reading.consentset import ConsentSet
from engine.run.consent import Consents
from engine.run.consentrefresh import ConsentRefresh
from engine.run.events import Event
from engine.run.gate import Gate
from engine.run.recorder import Recorder
from tests.fakes import FakeClock

SENDER, OTHER = "+16505550100", "+16505550101"


def consents(read_at: float, *opted: str, etag: str | None = None) -> Consents:
    records = [OptOut(to, OTHER, "2026-03-01T12:00:00Z") for to in opted]
    return Consents("account", SENDER, "search", 1, read_at, etag, len(records), "test",
                    ConsentSet(records))


class Reads:
    """A read of the opt-outs the test releases: how many began, and what each returns."""

    def __init__(self, wall: FakeClock, *opted: str, fail: bool = False) -> None:
        self.wall = wall
        self.opted = opted
        self.fail = fail
        self.begun = 0
        self.release = anyio.Event()

    async def __call__(self) -> Consents:
        self.begun += 1
        read_at = self.wall()
        await self.release.wait()
        if self.fail:
            raise ConsentError("refused") from RequestRejectedError(
                403, "CMN-408", "In order to call this API endpoint, user needs to have "
                "[SMS] permission")
        return consents(read_at, *self.opted)


def refresh(wall: FakeClock, reads: Reads, max_age: float, events: list[Event],
            journal: Path | None = None) -> tuple[ConsentRefresh, Gate, anyio.Event]:
    async def emit(event: Event) -> None:
        events.append(event)

    gate = Gate(ConsentSet([]), lambda r: None)
    stopping = anyio.Event()
    return ConsentRefresh(consents(wall()), reads, gate, Recorder(emit), max_age=max_age,
                          wall=wall, stopping=stopping, journal=journal), gate, stopping


async def ask_together(refreshing: ConsentRefresh, reads: Reads, early: int, late: int = 0
                       ) -> list[bool]:
    """``early`` workers ask at once; once a read began, ``late`` more ask while it is
    held; then it is let go."""
    answers: list[bool] = []

    async def ask() -> None:
        answers.append(await refreshing.current())

    async def settle() -> None:
        for _ in range(100):  # bounded: every task has run up to where it waits
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as group:
        for _ in range(early):
            group.start_soon(ask)
        await settle()
        assert reads.begun == 1
        for _ in range(late):
            group.start_soon(ask)
        await settle()
        reads.release.set()
    return answers


async def test_workers_past_the_max_age_share_one_read() -> None:
    """Three workers find the opt-outs too old at once: one read is made, all three send."""
    wall, events = FakeClock(), list[Event]()
    reads = Reads(wall)
    refreshing, _, _ = refresh(wall, reads, 900.0, events)
    assert await refreshing.current()
    assert reads.begun == 0
    wall.advance(901)
    assert await ask_together(refreshing, reads, 2, 1) == [True, True, True]
    assert reads.begun == 1  # the late one asked after it began: it is within the max age
    assert [e.to_json()["reads"] for e in events] == [2]
    assert refreshing.latest.reads == 2


async def test_max_age_zero_reads_for_every_batch_after_the_first() -> None:
    """With 0 the read before the first POST serves the first batch; a worker that asked
    after a read began waits for a newer one, which the workers waiting with it share."""
    wall, events = FakeClock(), list[Event]()
    reads = Reads(wall)
    refreshing, _, _ = refresh(wall, reads, 0.0, events)
    assert await refreshing.current()
    assert reads.begun == 0
    assert await ask_together(refreshing, reads, 2, 2) == [True] * 4
    assert reads.begun == 2  # the first two callers', then one the late two share
    assert await refreshing.current()
    assert reads.begun == 3


async def test_a_failed_read_stops_the_run_and_says_how_to_finish(tmp_path: Path) -> None:
    """A read that fails: nothing more may be POSTed (False, the run's stop set), the
    warning names the cause and the resume, and no later batch reads again or sends."""
    wall, events = FakeClock(), list[Event]()
    reads = Reads(wall, fail=True)
    journal = tmp_path / "run.journal"
    refreshing, _, stopping = refresh(wall, reads, 900.0, events, journal)
    wall.advance(901)
    reads.release.set()
    assert await refreshing.current() is False
    assert stopping.is_set()
    assert refreshing.failure is not None
    assert "SMS] permission" in refreshing.failure
    assert f"a2p send --resume {journal}" in refreshing.failure
    assert [e.to_json() for e in events] == [
        {"event": "warning", "code": "consent", "message": refreshing.failure}]
    assert await refreshing.current() is False
    assert reads.begun == 1


async def test_a_chunk_cut_before_a_changed_read_is_screened() -> None:
    """A chunk cut with the old opt-outs, POSTed after a read that added one of its
    recipients: that recipient is an LCL-OPTED-OUT rejection and not in the body sent; the
    chunk keeps its number and its first record's input offset."""
    wall, events = FakeClock(), list[Event]()
    tos = [f"+1415555{k:04d}" for k in range(5)]
    reads = Reads(wall, tos[2])
    refreshing, gate, _ = refresh(wall, reads, 900.0, events)
    chunker = Chunker(SENDER, "Hi", 100_000, 100)
    chunk = next(iter(chunker.chunks([_block(tos)])))
    wall.advance(901)
    reads.release.set()
    sent = await refreshing.first_post(chunk)
    assert sent is not None
    assert [m["to"][0] for m in orjson.loads(sent.data)["messages"]] == \
        [tos[0], tos[1], tos[3], tos[4]]
    assert (sent.number, sent.start_offset, sent.count) == (chunk.number, chunk.start_offset, 4)
    assert len(gate.consents) == 1
    rejected = [e.to_json() for e in events if e.to_json()["event"] == "rejected"]
    assert [(r["to"], r["errorCode"], r["index"]) for r in rejected] == \
        [(tos[2], OPTED_OUT, 2)]


def _block(tos: list[str]) -> Block:
    """A file's block: positions 0.., lines 2.., each record's line at byte 100 * k."""
    count = len(tos)
    return Block(tos, None, list(range(count)), list(range(2, count + 2)),
                 [100 * k for k in range(count)])
