"""What a journal says about opt-outs holds on every resume: a recipient a gate rejected
LCL-OPTED-OUT is never sent by a later resume, even one run with --no-consent (which only
leaves new screening out); a kill between an in-flight chunk's screen rejections and its split
leaves a journal the next resume finishes; a stop during the consent read is an interrupted
run, not a ConsentError (cold review of issue 21: H1, H3, M6)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.core.lifecycle import Reason
from engine.core.rejections import OPTED_OUT
from engine.errors import StoppedError
from engine.rc import consents as rc_consents
from engine.rc.transport import AiohttpTransport
from engine.run.journal import read_journal
from engine.types import Report
from tests.e2e.conftest import SENDER, Start, ledger_numbers
from tests.e2e.test_consent_inflight import killed_list

OTHER = "+16505550101"  # another sender of the account (tests/conftest.py sim_settings)


def numbers(n: int) -> list[str]:
    return [f"+1415555{i:04d}" for i in range(n)]


async def stopped(settings: engine.Settings, items: list[str], journal: Path,
                  **options: Any) -> Report:
    """A run (or resume) of 50-message chunks stopped once its first chunk is submitted."""
    stop = anyio.Event()

    async def stop_after_first(event: dict[str, Any]) -> None:
        if event["event"] == "chunk_submitted":
            stop.set()

    if "resume" not in options:
        options.update(sender=SENDER, text="Hi")
    report = await engine.send(items, config=settings, credentials=DEMO_CREDENTIALS,
                               on_event=stop_after_first, max_batch_messages=50,
                               concurrency=1, journal=journal, stop=stop, **options)
    assert report["status"] == "interrupted"
    return report


@pytest.mark.parametrize("at", [60, 399])  # in the chunk the consent resume sends; unsent
async def test_no_consent_resume_keeps_the_journals_opt_outs(start: Start, tmp_path: Path,
                                                             at: int) -> None:
    """A run begun with --no-consent, resumed with consents (which reject a new opt-out
    LCL-OPTED-OUT), then resumed with --no-consent: the opted-out recipient is never texted,
    nobody twice, and the totals count each row of the list once."""
    running, settings = await start()
    items = numbers(400)
    journal = tmp_path / "run.journal"
    await stopped(settings, items, journal, consent=False)
    victim = items[at]
    assert victim not in ledger_numbers(running)
    running.simulator.store.consents.inbound(OTHER, victim, "STOP", time.time())
    middle = await stopped(settings, items, journal, resume=journal, max_consent_age=0.0)
    assert middle["totals"]["suppressed"] == {"consent": 1}
    report = await engine.send(items, config=settings, credentials=DEMO_CREDENTIALS,
                               resume=journal, consent=False)
    ledger = ledger_numbers(running)
    assert len(ledger) == len(set(ledger))
    assert sorted(ledger) == sorted(set(items) - {victim})
    assert report["status"] == "completed"
    assert report["totals"]["records"] == 400
    assert report["totals"]["sent"] == 399
    assert report["totals"]["suppressed"] == {"consent": 1}
    assert [r["to"] for r in report["rejected"] if r["errorCode"] == OPTED_OUT] == [victim]


class Killed(BaseException):
    """The process dies here: every journal write before this point is on disk (each is
    fsync'd), none after."""


def kill_at(monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    """The resume dies at ``point`` of a caught chunk's screen: before its split is
    journaled, before its screen rejections are, or before the chunk of the rest is POSTed."""
    from engine.run.recorder import Recorder

    move, local = Recorder.move, Recorder.local

    def dying_move(self: Recorder, record: Any, state: str, reason: Reason | None = None,
                   *args: Any, **kw: Any) -> None:
        splitting = reason is Reason.OPTED_OUT
        resending = state == "submitting" and record.number != 3 and \
            100 <= record.first <= 149  # the chunk of chunk 3's rest
        if (point == "split" and splitting) or (point == "resend" and resending):
            raise Killed
        move(self, record, state, reason, *args, **kw)

    async def dying_local(self: Recorder, rejections: list[Any]) -> None:
        if point == "local" and any(r.error_code == OPTED_OUT for r in rejections):
            raise Killed
        await local(self, rejections)

    monkeypatch.setattr(Recorder, "move", dying_move)
    monkeypatch.setattr(Recorder, "local", dying_local)


@pytest.mark.parametrize("point", ["split", "local", "resend"])
async def test_kill_while_a_caught_chunk_is_screened_leaves_a_resumable_journal(
        start: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    """A resume killed while it screens a chunk caught in flight (two of its recipients opted
    out during the stop): the next resume finishes the run, sends everyone else once and
    never texts the two."""
    running, settings = await start()
    # chunk 3 (positions 100..149) in flight
    items, src, journal = await killed_list(settings, tmp_path, 300)
    stopped = {items[100], items[120]}
    for to in stopped:
        running.simulator.store.consents.inbound(SENDER, to, "STOP", time.time())
    kill_at(monkeypatch, point)
    with pytest.raises(Killed):
        await engine.send(str(src), config=settings, credentials=DEMO_CREDENTIALS,
                          resume=journal, max_consent_age=0.0, concurrency=1)
    monkeypatch.undo()
    if point == "local":  # the split is on disk, its rejections are not
        killed = read_journal(journal)
        assert killed.chunks[3]["status"] == "split"
        assert not killed.local
    assert not set(items[100:150]) & set(ledger_numbers(running))  # chunk 3's: none yet
    report = await engine.send(str(src), config=settings, credentials=DEMO_CREDENTIALS,
                               resume=journal, max_consent_age=0.0)
    ledger = ledger_numbers(running)
    assert len(ledger) == len(set(ledger))
    assert sorted(ledger) == sorted(set(items) - stopped)
    assert report["status"] == "completed"
    assert report["totals"]["records"] == 300
    assert report["totals"]["sent"] == 298
    assert report["totals"]["suppressed"] == {"consent": 2}
    assert sorted(read_journal(journal).local) == [100, 120]


class HangOnConsents:
    """The opt-outs' read never answers; the user stops the run (Ctrl-C) meanwhile."""

    def __init__(self, stop: anyio.Event) -> None:
        self.inner = AiohttpTransport(10.0)
        self.stop = stop

    async def request(self, method: str, url: str, **kw: Any) -> Any:
        if "/consents" in url:
            self.stop.set()
            await anyio.sleep_forever()
        return await self.inner.request(method, url, **kw)

    async def close(self) -> None:
        await self.inner.close()


def stopped_reads(monkeypatch: pytest.MonkeyPatch, stop: anyio.Event) -> None:
    """Both ways to read the opt-outs raise the rate budget's StoppedError (a stop while the
    read waited its turn), the stop set."""
    message = "stopped while waiting for the light rate budget; the request was not sent"

    @asynccontextmanager
    async def export(client: Any, etag: Any = None) -> AsyncIterator[Any]:
        stop.set()
        raise StoppedError(message)
        yield

    async def search(client: Any, sender: Any = None) -> Any:
        stop.set()
        raise StoppedError(message)

    monkeypatch.setattr(rc_consents, "export", export)
    monkeypatch.setattr(rc_consents, "search", search)


@pytest.mark.parametrize("how", ["hanging read", "StoppedError"])
@pytest.mark.parametrize("resumed", [False, True])
async def test_stop_during_the_consent_read_is_an_interrupted_run(
        start: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str,
        resumed: bool) -> None:
    """A stop while the opt-outs are read: the run (or resume) ends interrupted with its
    report, sends nothing more, and the same command again finishes the list once."""
    running, settings = await start()
    items = numbers(120)
    journal = tmp_path / "run.journal"
    before: list[str] = []
    if resumed:
        await stopped(settings, items, journal)
        before = ledger_numbers(running)
        assert before
    stop = anyio.Event()
    hang = HangOnConsents(stop)
    if how == "StoppedError":
        stopped_reads(monkeypatch, stop)
    options: dict[str, Any] = {"resume": journal} if resumed else \
        {"sender": SENDER, "text": "Hi", "journal": journal, "max_batch_messages": 50}
    try:
        with anyio.fail_after(10):  # the read never answers: only the stop ends it
            report = await engine.send(items, config=settings, credentials=DEMO_CREDENTIALS,
                                       stop=stop, transport=hang, **options)
    finally:
        await hang.close()
    monkeypatch.undo()
    assert report["status"] == "interrupted"
    assert ledger_numbers(running) == before  # nothing sent after the stop
    assert report["totals"]["sent"] == len(before)
    if not resumed:  # nothing was journaled before the first POST: a run anew
        assert not journal.exists()
    final = await engine.send(items, config=settings, credentials=DEMO_CREDENTIALS,
                              **options)
    ledger = ledger_numbers(running)
    assert final["status"] == "completed"
    assert sorted(ledger) == sorted(items)
