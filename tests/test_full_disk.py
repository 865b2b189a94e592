"""A full disk mid-run, and a refused resume, say what is true and what to do: the journal's
own write failure names the journal and `a2p send --resume JOURNAL` (which then finishes the
run, nobody texted twice), and no message tells a user to run the same command again once
batches may be sent, which would text them twice."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, cast

import pytest

import engine
from engine.batching.chunker import Chunker
from engine.cli.exits import messages
from engine.errors import JournalError
from engine.run import journal as journal_module
from engine.run.bodyspool import BodySpoolError, open_spool
from engine.run.journal import Journal, JournalWriteError, read_journal
from engine.run.resumeheader import check_matches
from engine.run.spill import SpillError, open_spill
from tests.fakes import CREDENTIALS, SENDER, FakeA2P, FakeClock, MockTransport, settings
from tests.test_bodyspool import _blocks

TWICE = "texted twice"


class FillsUp(io.RawIOBase):
    """A journal file on a volume that fills after ``room`` writes; under a real buffered
    writer, which then still holds the refused bytes when it is closed."""

    def __init__(self, raw: Any, room: int) -> None:
        super().__init__()
        self._raw, self._room = raw, room

    @property
    def name(self) -> str:
        return str(self._raw.name)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self._room <= 0:
            raise OSError(28, "No space left on device")
        self._room -= 1
        return int(self._raw.write(data))

    def fileno(self) -> int:
        return int(self._raw.fileno())

    def close(self) -> None:
        self._raw.close()
        super().close()


async def test_a_journal_that_cannot_be_written_says_resume_and_resume_finishes_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills while batches are being sent: the run ends with an error naming the
    journal and `a2p send --resume JOURNAL` (not a bare OSError), and that resume sends the
    rest: every recipient is in exactly one batch."""
    numbers = [f"+1415555{k:04d}" for k in range(40)]
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(numbers) + "\n")
    journal = tmp_path / "run.journal"
    server = FakeA2P()
    _fill_journals_after(monkeypatch, 8)

    def run_options(**changes: Any) -> Any:
        clock = FakeClock()
        return engine.SendOptions(sender=SENDER, text="Hi", config=settings(),
                                  credentials=CREDENTIALS, transport=MockTransport(server),
                                  clock=clock, sleep=clock.sleep, preflight=False,
                                  max_batch_bytes=300, report=str(tmp_path / "r.json"),
                                  **changes)

    with pytest.raises(BaseException) as info:  # noqa: PT011 (a group or the error itself)
        await engine.send(str(listing), run_options(journal=str(journal)))
    said = list(messages(info.value))
    assert any(isinstance(e, JournalWriteError) for e in _leaves(info.value))
    assert any(f"cannot write the journal {journal}: [Errno 28]" in m and
               f"a2p send --resume {journal}" in m and TWICE in m for m in said), said
    sent_before = sum(len(m) for m in server.messages.values())
    assert sent_before > 0  # batches were sent before the disk filled
    monkeypatch.undo()
    report = await engine.send(None, run_options(resume=str(journal)))
    texted = [m["to"][0] for batch in server.messages.values() for m in batch]
    assert sorted(texted) == numbers
    assert report["totals"]["sent"] == len(numbers)


def _fill_journals_after(monkeypatch: pytest.MonkeyPatch, room: int) -> None:
    """Every journal made from now on is on a volume that fills after ``room`` writes."""
    create = Journal.create.__func__  # type: ignore[attr-defined]

    def filling(cls: type[Journal], path: Path, header: dict[str, Any]) -> Journal:
        made: Journal = create(cls, path, header)
        raw = cast(io.BufferedWriter, made._handle).detach()
        made._handle = io.BufferedWriter(FillsUp(raw, room))
        return made

    monkeypatch.setattr(Journal, "create", classmethod(filling))


async def test_a_run_stopped_by_its_journal_ends_its_http_session(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against a server on loopback, a run the full journal stops still closes its HTTP
    session (no "Unclosed client session" noise after the message), and says the journal's
    error, not a bare "[Errno 28]"."""
    from engine.config.credentials import DEMO_CREDENTIALS
    from engine.rc.transport import AiohttpTransport
    from engine.simulator import start_simulator
    from tests.conftest import sim_settings
    from tests.e2e.conftest import engine_settings

    closed: list[object] = []
    real_close = AiohttpTransport.close

    async def close(self: AiohttpTransport) -> None:
        closed.append(self)
        await real_close(self)

    monkeypatch.setattr(AiohttpTransport, "close", close)
    _fill_journals_after(monkeypatch, 8)
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(f"+1415555{k:04d}" for k in range(400)) + "\n")
    running = await start_simulator(sim_settings(messages_per_second=1e6), port=0)
    try:
        with pytest.raises(BaseException) as info:  # noqa: PT011 (a group or the error)
            await engine.send(str(listing), sender=SENDER, text="Hi",
                              config=engine_settings(running.url),
                              credentials=DEMO_CREDENTIALS, journal=str(tmp_path / "j"),
                              report=str(tmp_path / "r.json"), preflight=False,
                              max_batch_bytes=2000)
    finally:
        await running.stop()
    # one JournalWriteError, or one from each worker that met the full journal at once
    assert {type(e) for e in _leaves(info.value)} == {JournalWriteError}
    assert len(closed) == 1


class _NoFsync:
    """``os`` as the journal sees it, with an ``fsync`` the disk refuses."""

    def __init__(self, fsync: Any) -> None:
        self.fsync = fsync

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def test_a_journal_whose_first_line_cannot_be_written_says_nothing_was_sent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A disk already full when the journal's header is written: nothing was sent, so the
    message says so, and to run the same command again once space is freed."""
    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal_module, "os", _NoFsync(full))
    path = tmp_path / "run.journal"
    with pytest.raises(JournalWriteError, match=r"run\.journal: \[Errno 28\].*Nothing was "
                                                r"sent.*run the same command again"):
        Journal.create(path, {"sender": SENDER})


def test_a_full_disk_for_a_body_or_the_spill_of_a_send_says_resume_not_run_again(
        tmp_path: Path) -> None:
    """Mid-send, a body or a rejection that cannot be written says to free space and then
    `a2p send --resume JOURNAL`, warning that the same command again would text the batches
    already sent twice; without a journal it says the run cannot be resumed."""
    journal = tmp_path / "run.journal"
    spool = open_spool(journal, None)
    spool.close()  # the folder gone, as on a lost volume: the next body cannot be written
    with pytest.raises(BodySpoolError) as body:
        list(Chunker(SENDER, "Hi", 40_000, sinks=spool.sink).chunks(_blocks(10)))
    assert f"a2p send --resume {journal}" in str(body.value)
    assert TWICE in str(body.value)
    assert "run again" not in str(body.value)

    class Full(io.BytesIO):
        def write(self, data: Any) -> int:
            raise OSError(28, "No space left on device")

    for where in (journal, None):
        with open_spill(where, tmp_path / "r.json") as spill:
            real, spill._file = spill._file, Full()
            with pytest.raises(SpillError) as info:
                spill.add(1, b"{}")
            spill._file = real
        said = str(info.value)
        assert TWICE in said
        assert "run again" not in said
        assert (f"a2p send --resume {journal}" in said) == (where is not None)
        assert ("cannot be resumed" in said) == (where is None)


def test_a_resume_refused_for_a_changed_input_says_a_new_run_texts_everyone_again(
        tmp_path: Path) -> None:
    """The input changed since the journal: the refusal says a new run would text again the
    recipients this run already sent to, and what to send instead."""
    listing = tmp_path / "list.txt"
    listing.write_text("+14155550100\n")
    from engine.run.inputs import input_identity

    journal = tmp_path / "run.journal"
    Journal.create(journal, {"sender": SENDER, "text": "Hi", "template": None,
                             "input": input_identity(str(listing))}).close()
    listing.write_text("+14155550100\n+14155550101\n")
    with pytest.raises(JournalError) as info:
        check_matches(read_journal(journal), str(listing), SENDER, "Hi", None)
    said = str(info.value)
    assert "changed since the journal was written" in said
    assert "text again everyone this run already sent to" in said
    assert "a2p outcomes" in said
