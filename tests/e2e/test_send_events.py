"""``engine.send_events`` as a well-made async generator: leaving early stops the run cleanly
and still writes its report, and the caller's own exceptions come back as themselves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.simulator import FaultSettings
from tests.e2e.conftest import SENDER, Start, ledger_numbers
from tests.waiting import until

COUNT = 600


def _listing(tmp_path: Path) -> Path:
    path = tmp_path / "list.txt"
    path.write_text("".join(f"+1415555{i:04d}\n" for i in range(COUNT)))
    return path


def _options(settings: engine.Settings, tmp_path: Path) -> dict[str, Any]:
    return {"sender": SENDER, "text": "Hi", "config": settings, "credentials": DEMO_CREDENTIALS,
            "max_batch_bytes": 1500, "journal": tmp_path / "run.journal",
            "report": tmp_path / "report.json"}


def _loop_errors() -> list[dict[str, Any]]:
    """Errors the event loop would only log (a finaliser that fails): collected instead."""
    errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: errors.append(context))
    return errors


async def test_break_stops_the_run_and_still_writes_the_report(start: Start,
                                                               tmp_path: Path) -> None:
    """Breaking out of the loop stops the run (no new batch), with no error in any task, and
    the report is written as interrupted."""
    running, settings = await start(faults=FaultSettings(latency=0.05, scope="send"))
    errors = _loop_errors()
    async for event in engine.send_events(_listing(tmp_path), **_options(settings, tmp_path)):
        if event["event"] == "chunk_submitted":
            break
    report = tmp_path / "report.json"
    await until(report.exists, "the report of the abandoned generator, which the event loop "
                "finalises")
    document = orjson.loads(report.read_bytes())
    assert document["interrupted"] is True
    assert len(ledger_numbers(running)) == document["totals"]["sent"] < COUNT
    assert errors == []


async def test_aclose_stops_cleanly_and_the_journal_resumes(start: Start,
                                                            tmp_path: Path) -> None:
    """aclose() returns without an exception group; the report is written, and resuming the
    journal sends every remaining recipient, none twice."""
    running, settings = await start(faults=FaultSettings(latency=0.05, scope="send"))
    listing = _listing(tmp_path)
    events = engine.send_events(listing, **_options(settings, tmp_path))
    first = await anext(events)
    if first["event"] == "consent":  # the opt-outs read before the first POST
        first = await anext(events)
    await events.aclose()
    assert (tmp_path / "report.json").exists()
    assert first["event"] in ("chunk_submitted", "rejected")
    options = _options(settings, tmp_path)
    del options["journal"]
    report = await engine.send(listing, resume=tmp_path / "run.journal", **options)
    assert report["status"] == "completed"
    assert sorted(ledger_numbers(running)) == [f"+1415555{i:04d}" for i in range(COUNT)]


class Mine(Exception):
    """The caller's own exception."""


async def _failing_recipients() -> AsyncIterator[str]:
    for i in range(50):
        yield f"+1415555{i:04d}"
    raise Mine("the caller's source broke")


async def test_the_callers_exception_comes_back_as_itself(start: Start) -> None:
    """An exception from the caller's own async iterable is raised as itself by send_events
    and by send, not wrapped in an ExceptionGroup."""
    _, settings = await start()
    options: dict[str, Any] = {"sender": SENDER, "text": "Hi", "config": settings,
                               "credentials": DEMO_CREDENTIALS}
    with pytest.raises(Mine, match="source broke"):
        async for _ in engine.send_events(_failing_recipients(), **options):
            pass
    with pytest.raises(Mine):
        await engine.send(_failing_recipients(), **options)


async def test_engine_errors_come_back_as_themselves(start: Start, tmp_path: Path) -> None:
    """A refused login raises AuthError itself (not a group), and leaves no journal."""
    _, settings = await start()
    options = _options(settings, tmp_path) | {
        "credentials": engine.Credentials("demo-client-id", "wrong", "demo-user-jwt")}
    with pytest.raises(engine.AuthError):
        async for _ in engine.send_events(_listing(tmp_path), **options):
            pass
    assert not (tmp_path / "run.journal").exists()
