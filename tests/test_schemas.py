"""The published schemas: the files the package ships (engine/schemas/*.json) are exactly what
the code builds, and a run's events and report validate against them."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import jsonschema
import orjson
import pytest

import engine
from engine.schema import render, shipped
from tests.fakes import CREDENTIALS, SENDER, FakeA2P, FakeClock, MockTransport, reply, settings


@pytest.mark.parametrize("name", ["events", "report"])
def test_the_shipped_schema_files_are_what_the_code_builds(name: str) -> None:
    """Changing an event or the report without its schema file (or the reverse) fails here."""
    assert shipped(name) == render(name) + "\n", (
        f"engine/schemas/{name}.json is stale: write it again with "
        f"python -m engine.schema {name} > engine/schemas/{name}.json")
    jsonschema.Draft202012Validator.check_schema(orjson.loads(shipped(name)))


def test_python_m_engine_schema_prints_the_shipped_files() -> None:
    """`python -m engine.schema events|report` prints each file byte for byte; anything else
    is a usage error (exit 2)."""
    for name in ("events", "report"):
        printed = subprocess.run([sys.executable, "-m", "engine.schema", name],
                                 capture_output=True, text=True, check=True, timeout=60)
        assert printed.stdout == shipped(name)
    wrong = subprocess.run([sys.executable, "-m", "engine.schema", "outcomes"],
                           capture_output=True, text=True, check=False, timeout=60)
    assert wrong.returncode == 2
    assert "usage: python -m engine.schema events|report" in wrong.stderr


async def test_every_event_and_the_report_of_a_run_match_the_schemas() -> None:
    """A run with a local rejection, a refused chunk and accepted ones, on fakes: each event
    line and the report validate."""
    clock = FakeClock()
    server = FakeA2P(posts=[None, reply(400, {"errorCode": "CMN-101", "message": "bad"})])
    seen: list[dict[str, Any]] = []

    async def keep(event: dict[str, Any]) -> None:
        seen.append(orjson.loads(orjson.dumps(event)))

    report = await engine.send(
        ["+14155550100", "not a number", "+14155550101", "+14155550102"], sender=SENDER,
        text="Hi", config=settings(), credentials=CREDENTIALS, max_batch_bytes=90,
        transport=MockTransport(server), clock=clock, sleep=clock.sleep, on_event=keep,
        preflight=False)
    events = jsonschema.Draft202012Validator(orjson.loads(shipped("events")))
    for event in seen:
        events.validate(event)
    assert {e["event"] for e in seen} >= {"rejected", "chunk_submitted", "chunk_failed",
                                           "batch_completed", "summary"}
    jsonschema.Draft202012Validator(orjson.loads(shipped("report"))).validate(
        orjson.loads(orjson.dumps(report, default=list)))  # rejected: a view of the file
    assert report["totals"]["failedChunks"] == 1
