"""A chunk in flight when a run was killed, proved never created, is screened by the
consents the resume reads before it is sent again: an opt-out that came during the stop is
never texted (review of issue 21, finding 1)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.core.rejections import OPTED_OUT
from engine.rc.transport import AiohttpTransport
from engine.run.journal import read_journal
from tests.e2e.conftest import SENDER, Start, ledger_numbers


class Hang:
    """The third POST /batches never leaves: the run is killed while it is in flight."""

    def __init__(self) -> None:
        self.inner = AiohttpTransport(10.0)
        self.posts = 0
        self.hung = anyio.Event()

    async def request(self, method: str, url: str, **kw: Any) -> Any:
        if method == "POST" and url.endswith("/batches"):
            self.posts += 1
            if self.posts == 3:
                self.hung.set()
                await anyio.sleep_forever()
        return await self.inner.request(method, url, **kw)

    async def close(self) -> None:
        await self.inner.close()


async def killed_in_flight(settings: Any, src: Path, journal: Path) -> None:
    """A run of 50-message chunks killed while its third chunk's POST is in flight."""
    hang = Hang()
    try:
        async with anyio.create_task_group() as tg:
            async def go() -> None:
                await engine.send(str(src), sender=SENDER, text="Hi", config=settings,
                                  credentials=DEMO_CREDENTIALS, max_batch_messages=50,
                                  concurrency=1, journal=journal, transport=hang)
            tg.start_soon(go)
            with anyio.fail_after(30):
                await hang.hung.wait()
            tg.cancel_scope.cancel()  # a kill: chunk 3 is "submitting" in the journal
    finally:
        await hang.close()


async def killed_list(settings: Any, tmp_path: Path, rows: int
                      ) -> tuple[list[str], Path, Path]:
    """A list of ``rows`` numbers (list.txt) whose run was killed with chunk 3 in flight
    (``killed_in_flight``): its numbers, the list and the journal."""
    items = [f"+1415555{i:04d}" for i in range(rows)]
    src = tmp_path / "list.txt"
    src.write_text("\n".join(items) + "\n")
    journal = tmp_path / "run.journal"
    await killed_in_flight(settings, src, journal)
    return items, src, journal


async def test_inflight_chunk_resent_without_new_opt_outs(start: Start, tmp_path: Path
                                                          ) -> None:
    """Recipients of an in-flight chunk who opted out during the stop are rejected
    LCL-OPTED-OUT, the rest sent once, and a second resume changes nothing."""
    running, settings = await start()
    items, src, journal = await killed_list(settings, tmp_path, 300)
    assert len(ledger_numbers(running)) == 100  # chunks 1 and 2; chunk 3 never arrived
    stopped = {items[100], items[120], items[149]}  # in chunk 3 (positions 100..149)
    for to in stopped:
        running.simulator.store.consents.inbound(SENDER, to, "STOP", time.time())
    report = await engine.send(str(src), config=settings, credentials=DEMO_CREDENTIALS,
                               resume=journal, max_consent_age=0.0)
    ledger = ledger_numbers(running)
    assert len(ledger) == len(set(ledger))
    assert not stopped & set(ledger)
    assert sorted(ledger) == sorted(set(items) - stopped)
    assert report["status"] == "completed"
    assert report["totals"]["suppressed"] == {"consent": 3}
    assert report["totals"]["sent"] == 297
    assert {r["to"] for r in report["rejected"] if r["errorCode"] == OPTED_OUT} == stopped
    state = read_journal(journal)
    assert sorted(state.local) == sorted(items.index(to) for to in stopped)
    again = await engine.send(str(src), config=settings, credentials=DEMO_CREDENTIALS,
                              resume=journal, max_consent_age=0.0)
    assert ledger_numbers(running) == ledger
    assert again["totals"]["sent"] == 297
    assert again["totals"]["suppressed"] == {"consent": 3}


async def test_inflight_chunk_wholly_opted_out_is_not_resent(start: Start, tmp_path: Path
                                                             ) -> None:
    """An in-flight chunk whose every recipient opted out during the stop sends nothing."""
    running, settings = await start()
    items, src, journal = await killed_list(settings, tmp_path, 150)
    stopped = set(items[100:150])
    for to in stopped:
        running.simulator.store.consents.inbound(SENDER, to, "STOP", time.time())
    report = await engine.send(str(src), config=settings, credentials=DEMO_CREDENTIALS,
                               resume=journal, max_consent_age=0.0)
    ledger = ledger_numbers(running)
    assert sorted(ledger) == sorted(items[:100])
    assert report["status"] == "completed"
    assert report["totals"]["sent"] == 100
    assert report["totals"]["suppressed"] == {"consent": 50}


class HangOn:
    """The POST /batches whose body holds ``marker`` never leaves (a kill while it is in
    flight)."""

    def __init__(self, marker: str) -> None:
        self.inner = AiohttpTransport(10.0)
        self.marker = marker.encode()
        self.hung = anyio.Event()

    async def request(self, method: str, url: str, **kw: Any) -> Any:
        body = kw.get("body")
        if method == "POST" and url.endswith("/batches") and body is not None and \
                self.marker in bytes(body):
            self.hung.set()
            await anyio.sleep_forever()
        return await self.inner.request(method, url, **kw)

    async def close(self) -> None:
        await self.inner.close()


async def test_cut_chunk_killed_in_flight_is_resent_once(start: Start, tmp_path: Path
                                                         ) -> None:
    """The chunk cut without the new opt-outs, itself in flight at a second kill, is
    rebuilt, proved absent and sent once by the next resume: nobody twice, nobody lost."""
    running, settings = await start()
    items, src, journal = await killed_list(settings, tmp_path, 300)
    stopped = {items[100], items[120]}
    for to in stopped:
        running.simulator.store.consents.inbound(SENDER, to, "STOP", time.time())
    hang = HangOn(items[101])  # only in the cut chunk's body
    try:
        async with anyio.create_task_group() as tg:
            async def go() -> None:
                await engine.send(str(src), config=settings, credentials=DEMO_CREDENTIALS,
                                  resume=journal, max_consent_age=0.0, transport=hang)
            tg.start_soon(go)
            with anyio.fail_after(30):
                await hang.hung.wait()
            tg.cancel_scope.cancel()
    finally:
        await hang.close()
    assert items[101] not in ledger_numbers(running)
    report = await engine.send(str(src), config=settings, credentials=DEMO_CREDENTIALS,
                               resume=journal, max_consent_age=0.0)
    ledger = ledger_numbers(running)
    assert len(ledger) == len(set(ledger))
    assert sorted(ledger) == sorted(set(items) - stopped)
    assert report["status"] == "completed"
    assert report["totals"]["suppressed"] == {"consent": 2}
    assert report["totals"]["sent"] == 298
