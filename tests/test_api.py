"""The library door on fakes: one frozen options object, or keywords that build it; the
library never imports the simulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

import engine
from engine.errors import JournalBusyError, UsageError
from engine.run.journallock import JournalLock
from engine.run.options import SendOptions
from tests.fakes import CREDENTIALS, SENDER, FakeA2P, FakeClock, MockTransport, settings


def options(**changes: Any) -> SendOptions:
    clock = FakeClock()
    return SendOptions(sender=SENDER, text="Hi", config=settings(), credentials=CREDENTIALS,
                       transport=MockTransport(FakeA2P()), clock=clock, sleep=clock.sleep,
                       preflight=False, **changes)


async def test_an_options_object_and_keywords_make_the_same_run() -> None:
    """send(recipients, options) and send(recipients, **keywords) send the same batches."""
    numbers = [f"+1415555{k:04d}" for k in range(25)]
    by_object = await engine.send(numbers, options(max_batch_bytes=300))
    given = options()
    keywords = {name: getattr(given, name) for name in
                ("sender", "text", "config", "credentials", "clock", "sleep", "preflight")}
    by_keywords = await engine.send(numbers, transport=MockTransport(FakeA2P()),
                                    max_batch_bytes=300, **keywords)
    for report in (by_object, by_keywords):
        assert report["status"] == "completed"
        assert report["totals"]["sent"] == 25
    assert [b["messages"] for b in by_object["batches"]] == \
        [b["messages"] for b in by_keywords["batches"]]


async def test_keywords_change_the_options_given() -> None:
    """A keyword next to an options object wins over the object's value."""
    report = await engine.send(["+14155550100"], options(), wait="accepted")
    assert report["settings"]["wait"] == "accepted"
    assert report["batches"][0]["status"] == "accepted"


def test_a_misspelt_option_or_a_bad_value_is_refused_with_the_choices() -> None:
    """An unknown keyword names the options; a bad wait names the allowed values."""
    with pytest.raises(TypeError, match="unexpected keyword arguments sendr"):
        SendOptions.of(None, {"sendr": SENDER})
    with pytest.raises(UsageError, match="wait must be one of completed, accepted"):
        SendOptions(wait="forever")


def test_the_library_path_imports_no_simulator() -> None:
    """engine.send, engine.outcomes and the CLI's send path load nothing of the simulator."""
    code = ("import sys, engine, engine.run.api, engine.results.export, engine.cli.commands; "
            "print(sorted(m for m in sys.modules if m.startswith('engine.simulator')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


async def test_a_journal_held_by_another_run_is_refused_before_any_request(
        tmp_path: Path) -> None:
    """send(journal=J) and send(resume=J) while J is held: JournalBusyError (a usage error,
    exit 2 in the CLI) naming J, and not one request, not even the login."""
    journal = tmp_path / "run.journal"
    numbers = [f"+1415555{k:04d}" for k in range(25)]
    first = await engine.send(numbers, options(max_batch_bytes=300, journal=journal))
    assert first["status"] == "completed"
    for given in ({"journal": tmp_path / "other.journal"}, {"resume": journal}):
        held = Path(given.get("journal") or given["resume"])
        transport = MockTransport(FakeA2P())
        with JournalLock(held, "a2p send"), pytest.raises(JournalBusyError) as refused:
            await engine.send(numbers, options(**given), transport=transport)
        assert isinstance(refused.value, UsageError)
        assert str(held) in str(refused.value)
        assert transport.requests == []


async def test_a_run_stopped_before_the_login_reports_interrupted() -> None:
    """Stopped before anything was sent: status interrupted, not completed, 0 sent."""
    stop = anyio.Event()
    stop.set()
    report = await engine.send(["+14155550100"], options(stop=stop))
    assert report["interrupted"] is True
    assert report["status"] == "interrupted"
    assert report["totals"]["sent"] == 0
