"""The published schemas: the README shows exactly what the code builds, and a run's events
and report validate against them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import orjson

import engine
from engine.schema import render, schemas
from tests.fakes import CREDENTIALS, SENDER, FakeA2P, FakeClock, MockTransport, reply, settings

README = Path(__file__).resolve().parent.parent / "README.md"


def published(title: str) -> str:
    text = README.read_text()
    found = re.search(r"<summary>" + re.escape(title) + r"[^<]*</summary>\s*```json\n(.*?)\n```",
                      text, re.S)
    assert found is not None, f"README has no {title!r} block"
    return found.group(1)


def test_the_readme_publishes_the_schemas_the_code_builds() -> None:
    """Changing an event or the report without the README (or the reverse) fails here."""
    assert published("Event stream schema") == render("events")
    assert published("Report schema") == render("report")
    for schema in schemas().values():
        jsonschema.Draft202012Validator.check_schema(schema)


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
    events = jsonschema.Draft202012Validator(schemas()["events"])
    for event in seen:
        events.validate(event)
    assert {e["event"] for e in seen} >= {"rejected", "chunk_submitted", "chunk_failed",
                                           "batch_completed", "summary"}
    jsonschema.Draft202012Validator(schemas()["report"]).validate(
        orjson.loads(orjson.dumps(report)))
    assert report["totals"]["failedChunks"] == 1
