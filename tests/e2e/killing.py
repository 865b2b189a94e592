"""Kills in the e2e tests: a journal cut as a kill leaves it, and runs cancelled at the
n-th ``chunk_submitted`` (counted across runs) then resumed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.config.settings import Settings
from engine.types import Report
from tests.e2e.conftest import SENDER

if TYPE_CHECKING:
    from tests.e2e.test_schedule_rounds import FakeTime

def cut_after_submitting(journal: Path, chunk: int = 2) -> None:
    """A kill: the journal ends right after chunk ``chunk``'s first 'submitting' line."""
    lines = journal.read_bytes().splitlines(keepends=True)
    cut = next(k for k, line in enumerate(lines) if b'"type":"state"' in line
               and f'"chunk":{chunk}'.encode() in line and b'"submitting"' in line)
    journal.write_bytes(b"".join(lines[:cut + 1]))


OnEvent = Callable[[dict[str, Any]], Awaitable[None]]


class Killer:
    """Runs killed (cancelled at once, a request possibly on the wire) at the
    ``chunk_submitted`` events numbered in ``kills``, counted across runs; each event passed
    first to ``then``."""

    def __init__(self, kills: list[int], then: OnEvent | None = None) -> None:
        self.kills, self.then = kills, then
        self.submitted = 0

    async def attempt(self, send: Callable[[OnEvent], Awaitable[Report]]) -> Report | None:
        """The report of ``send`` (given the event handler), or None: killed."""
        reports: list[Report] = []
        async with anyio.create_task_group() as group:
            async def on_event(event: dict[str, Any]) -> None:
                if self.then is not None:
                    await self.then(event)
                if event["event"] == "chunk_submitted":
                    self.submitted += 1
                    if self.kills and self.submitted == self.kills[0]:
                        self.kills.pop(0)
                        group.cancel_scope.cancel()  # a kill: nothing after this line runs

            async def run() -> None:
                reports.append(await send(on_event))

            group.start_soon(run)
        return reports[0] if reports else None


def send_or_resume(attempt: int, listing: Path, journal: Path, settings: Settings,
                   time: FakeTime, first: dict[str, Any],
                   **common: Any) -> Callable[[OnEvent], Awaitable[Report]]:
    """Attempt 0: a new send of ``listing`` with the options ``first``; each later one: a
    --resume of ``journal``; each with the options ``common`` (for ``Killer.attempt``)."""
    options: dict[str, Any] = {"resume": journal} if attempt else {"journal": journal, **first}

    def send(on_event: OnEvent) -> Awaitable[Report]:
        return engine.send(None if attempt else listing, sender=None if attempt else SENDER,
                           text=None if attempt else "Hi", config=settings,
                           credentials=DEMO_CREDENTIALS, wall=time.wall, clock=time.clock,
                           sleep=time.sleep, on_event=on_event, **common, **options)

    return send
