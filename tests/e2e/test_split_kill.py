"""A 413's split, killed at every step and resumed: every valid recipient texted exactly
once (the simulator's ledger), every rejection reported, and totals that add up. The kill
is the process dying at a journal write: that entry and every one after it never reach the
file, and no request that entry was to announce goes out."""

from __future__ import annotations

import errno
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, cast

import pytest

import engine
from engine.batching.messagejson import Payload
from engine.config.credentials import DEMO_CREDENTIALS
from engine.errors import EngineError
from engine.run.bodyspool import FileSink
from engine.run.journal import Journal
from engine.types import Report
from tests.e2e.conftest import SENDER, Start, ledger_numbers
from tests.lists import any_country, scattered

Entry = dict[str, Any]


class Killed(BaseException):
    """The process died here (a BaseException: nothing in the engine handles it)."""


class Split:
    """What the journal said so far about the first split: its halves' numbers."""

    def __init__(self) -> None:
        self.halves: list[int] = []
        self.seen = False

    def note(self, entry: Entry) -> None:
        if not self.seen and entry.get("status") == "split":
            self.seen = True
            self.halves = [half["chunk"] for half in entry.get("halves") or ()]
        elif self.seen and entry.get("type") == "chunk" and len(self.halves) < 2:
            self.halves.append(entry["chunk"])  # a journal that wrote them on lines of their own

    def half(self, k: int, entry: Entry, status: str) -> bool:
        return len(self.halves) > k and entry.get("type") == "state" and \
            entry.get("chunk") == self.halves[k] and entry.get("status") == status


# Where the process dies: before the entry for which this is true is written.
KILL_POINTS: dict[str, Callable[[Split, Entry], bool]] = {
    # the 413 came back, the split not yet journaled: the chunk is in flight
    "before-split": lambda s, e: e.get("status") == "split",
    # the first half created on the server, its answer not journaled (issue 20, finding 1)
    "first-half-in-flight": lambda s, e: s.half(0, e, "accepted"),
    # the first half accepted, the second never sent
    "second-half-unsent": lambda s, e: s.half(1, e, "submitting"),
    # the second half created on the server, its answer not journaled
    "second-half-in-flight": lambda s, e: s.half(1, e, "accepted"),
}


def write_list(path: Path, n: int) -> tuple[list[str], set[int], set[int]]:
    numbers, local, server = scattered(n, random.Random(n), bad=0.03)
    path.write_text("to\n" + "".join(f"{x}\n" for x in numbers))
    return numbers, local, server


async def send(path: Path, settings: engine.Settings, **options: Any) -> Report:
    return await engine.send(path, sender=SENDER, config=settings,
                             credentials=DEMO_CREDENTIALS, text="Hi", read=any_country("Hi"),
                             concurrency=3, **options)


@pytest.mark.parametrize("point", list(KILL_POINTS))
async def test_a_split_killed_at_any_step_resumes_to_everyone_exactly_once(
        start: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    """Killed before the split is journaled, while either half is in flight, or between the
    halves: the resume texts every valid recipient once and reports every rejection."""
    running, settings = await start(max_body_bytes=2048)
    path, journal = tmp_path / "list.csv", tmp_path / "run.journal"
    numbers, local, server = write_list(path, 300)
    split, dead = Split(), list[Entry]()
    real_write = Journal.write

    def write(self: Journal, entry: Entry) -> None:
        if dead or KILL_POINTS[point](split, entry):
            dead.append(entry)
            raise Killed(point)
        split.note(entry)
        real_write(self, entry)

    monkeypatch.setattr(Journal, "write", write)
    with pytest.raises(BaseException) as caught:  # noqa: PT011 (the kill, maybe in a group)
        await send(path, settings, journal=journal, max_batch_bytes=3000)
    assert dead, f"the run ended without reaching {point}: {caught.value!r}"
    monkeypatch.setattr(Journal, "write", real_write)

    report = await send(path, settings, resume=journal)
    check(report, running, numbers, local, server)


async def test_a_split_whose_halves_fill_the_disk_resumes_to_everyone_exactly_once(
        start: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills as a 413's halves are spooled: the run ends saying so, and once space
    is freed the resume texts every valid recipient once (the split chunk was still in
    flight in the journal, never split with its records held by no half)."""
    running, settings = await start(max_body_bytes=2048)
    path, journal = tmp_path / "list.csv", tmp_path / "run.journal"
    numbers, local, server = write_list(path, 300)
    real_write = FileSink.write

    def write(self: FileSink, data: Payload) -> None:
        if running.simulator.stats["413"] and not isinstance(self._file, FullDisk):
            self._file = cast(BinaryIO, FullDisk(self._file))  # full from the first 413 on
        real_write(self, data)

    monkeypatch.setattr(FileSink, "write", write)
    with pytest.raises(BaseException) as caught:  # noqa: PT011 (one, or several at once)
        await send(path, settings, journal=journal, max_batch_bytes=3000)
    assert any(isinstance(e, EngineError) and "No space left" in str(e)
               for e in flat(caught.value)), caught.value
    monkeypatch.setattr(FileSink, "write", real_write)

    report = await send(path, settings, resume=journal)
    check(report, running, numbers, local, server)


def flat(error: BaseException) -> list[BaseException]:
    """The errors an exception (group) holds."""
    if isinstance(error, BaseExceptionGroup):
        return [e for inner in error.exceptions for e in flat(inner)]
    return [error]


class FullDisk:
    """A body file on a full disk: every write fails ENOSPC."""

    def __init__(self, file: Any) -> None:
        self._file = file

    def write(self, data: Payload) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def close(self) -> None:
        self._file.close()


def check(report: Report, running: Any, numbers: list[str], local: set[int],
          server: set[int]) -> None:
    """The ledger holds each valid recipient once; the report every rejection and totals
    that say so."""
    valid = [x for i, x in enumerate(numbers) if i not in local | server]
    assert sorted(ledger_numbers(running)) == sorted(valid)
    assert {r["index"] for r in report["rejected"] if r["source"] == "local"} == local
    assert {r["index"] for r in report["rejected"] if r["source"] == "server"} == server
    totals = report["totals"]
    assert totals["records"] == len(numbers)
    assert (totals["sent"], totals["rejectedLocal"], totals["rejectedServer"]) == \
        (len(valid), len(local), len(server))
    assert report["status"] == "completed"
