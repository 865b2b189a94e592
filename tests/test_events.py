"""The run's events as a consumer reads them: camelCase JSON with the kind under ``event``,
read back to the same value, and a schema that names every field and refuses any other
kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonschema
import orjson
import pytest

from engine.core.rejections import INVALID_NUMBER, SERVER, Rejection
from engine.run import events, eventschema
from engine.run.events import (
    EVENTS,
    BatchCompleted,
    BatchDelivered,
    ChunkFailed,
    ChunkSubmitted,
    ConsentRead,
    Event,
    Expired,
    Rejected,
    Resumed,
    RunWarning,
    StatusCounts,
    Summary,
    Totals,
    Waiting,
)

COUNTS = StatusCounts(queued=0, sent=1, delivered=7, delivery_failed=1, sending_failed=1,
                      error_code_counts={"SMS-UP-410": 1}, cost=0.07,
                      counts_read_at="2026-12-04T21:00:00Z")
TOTALS = Totals(records=12, sent=9, rejected_local=1, rejected_server=1, pending=1,
                failed_chunks=0, unknown_chunks=0, adopted_chunks=1, delivered=7,
                delivery_failed=1, sending_failed=1, cost=0.07,
                statuses={"delivered": 7})
# One of each kind, every field set to something other than its default.
SAMPLES: list[Event] = [
    Rejected(4, 6, "650-0", INVALID_NUMBER, "not a number", None, "local"),
    ChunkSubmitted(2, "b-17", 10, 19, 10, 9, 1234, 2, 1),
    ChunkFailed(3, "unknown", 20, 29, {"errorCode": "CMN-211", "status": 503}, "check it"),
    BatchCompleted(2, "b-17", 9, COUNTS),
    BatchDelivered(2, "b-17", COUNTS),
    RunWarning("mostly-rejected", "6 of 10 records (60%) were rejected"),
    ConsentRead("pair", "conditional-export", "2026-12-04T21:00:00.000000Z", 1, False, 1501,
                12, '"e-3"'),
    Waiting("2026-12-05T16:00:00Z", 3600.0, "quiet-hours",
            "waiting for the next recipients' window to open until 08:00 local", 40,
            {"America/New_York": 30, "America/Chicago": 10}),
    Expired(7, "2026-12-06T02:00:00Z", {"America/Los_Angeles": 7}),
    Resumed(read=130, sent=90, rejected_local=7, rejected_server=2, accepted_chunks=4,
            completed_chunks=3, failed_chunks=1, unknown_chunks=1),
    Summary("completed", TOTALS, requests=40, throttled=2),
]


def test_every_kind_has_a_sample_here() -> None:
    """A new event class joins SAMPLES, so the tests below cover it."""
    assert [type(e) for e in SAMPLES] == list(EVENTS)


def test_fields_are_camel_case_under_the_kinds_name() -> None:
    """snake_case fields become camelCase; the kind is ``event``."""
    assert SAMPLES[1].to_json() == {
        "event": "chunk_submitted", "chunk": 2, "batchId": "b-17", "firstIndex": 10,
        "lastIndex": 19, "messages": 10, "batchSize": 9, "bytes": 1234, "attempts": 2,
        "rejected": 1}


def test_counts_and_totals_are_spread_into_the_event_not_nested() -> None:
    """A batch_completed line holds the status counts beside its own fields, as the summary
    holds the totals: one flat object a `jq .delivered` reads."""
    line = SAMPLES[3].to_json()
    assert line == {"event": "batch_completed", "chunk": 2, "batchId": "b-17",
                    "processedCount": 9, "queued": 0, "sent": 1, "delivered": 7,
                    "deliveryFailed": 1, "sendingFailed": 1,
                    "errorCodeCounts": {"SMS-UP-410": 1}, "cost": 0.07,
                    "countsReadAt": "2026-12-04T21:00:00Z"}
    summary = SAMPLES[-1].to_json()
    assert (summary["event"], summary["status"], summary["rejectedLocal"],
            summary["adoptedChunks"], summary["requests"]) == ("summary", "completed", 1, 1, 40)
    assert "totals" not in summary


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.KIND)
def test_an_event_read_back_from_its_json_line_is_the_same(event: Event) -> None:
    """parse(to_json) is the identity, through the bytes a pipe carries."""
    line = orjson.loads(orjson.dumps(event.to_json()))
    assert events.parse(line) == event


def test_a_server_rejection_becomes_its_event_field_by_field() -> None:
    """Rejected.of keeps index, line, number, code, description, batch and source."""
    rejection = Rejection(8, None, "+14155550100", "SMS-CAR-411", "carrier refused", "b-3",
                          SERVER)
    assert Rejected.of(rejection).to_json() == {
        "event": "rejected", "index": 8, "line": None, "to": "+14155550100",
        "errorCode": "SMS-CAR-411", "description": "carrier refused", "batchId": "b-3",
        "source": "server"}


def test_an_unknown_kind_or_a_missing_field_is_refused() -> None:
    """A line of another stream, or a truncated one, raises instead of becoming an event."""
    with pytest.raises(KeyError):
        events.parse({"event": "chunk_resent", "chunk": 1})
    partial = SAMPLES[1].to_json()
    del partial["batchId"]
    with pytest.raises(TypeError):
        events.parse(partial)


def test_the_schema_accepts_each_kind_and_refuses_a_wrong_one() -> None:
    """Every sample validates; a line with an unknown kind, a missing field or a wrong
    type does not."""
    validator = jsonschema.Draft202012Validator(eventschema.schema())
    stamped = events.Stamper("run-1", lambda: 1_700_000_000.25)
    for event in SAMPLES:
        validator.validate(orjson.loads(orjson.dumps(stamped(event.to_json()))))
    wrong_kind = stamped({**SAMPLES[5].to_json(), "event": "warnings"})
    missing = {k: v for k, v in stamped(SAMPLES[1].to_json()).items() if k != "attempts"}
    wrong_type = stamped({**SAMPLES[0].to_json(), "index": "4"})
    unstamped = SAMPLES[1].to_json()  # a run's event always says when, and which run
    for line in (wrong_kind, missing, wrong_type, unstamped):
        assert not validator.is_valid(line), line


def test_the_schema_names_each_kind_its_required_fields_and_doc() -> None:
    """Each variant's title is its class, its description the class's docstring, and every
    field is required (nullable ones allow null)."""
    variants = {v["title"]: v for v in eventschema.schema()["oneOf"]}
    assert list(variants) == [kind.__name__ for kind in EVENTS]
    failed = variants["ChunkFailed"]
    assert failed["properties"]["event"] == {"const": "chunk_failed"}
    assert failed["required"] == ["event", "chunk", "status", "firstIndex", "lastIndex",
                                  "error", "note", "time", "runId"]
    assert failed["properties"]["note"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert failed["description"].startswith("A chunk ended unsent")


def test_a_field_with_no_json_type_is_refused_when_the_schema_is_built() -> None:
    """An event field of a type the schema cannot say (a list) fails loudly, naming it,
    rather than publishing a schema that lies."""

    @dataclass(frozen=True)
    class WithList:
        items: list[int]

    with pytest.raises(TypeError, match="no JSON Schema type"):
        eventschema.object_schema(WithList)


def test_object_schema_of_the_totals_lists_every_total() -> None:
    """The report's totals object: every field, camelCase, required."""
    schema: dict[str, Any] = eventschema.object_schema(Totals)
    assert schema["required"] == [
        "records", "sent", "rejectedLocal", "rejectedServer", "pending", "failedChunks",
        "unknownChunks", "adoptedChunks", "delivered", "deliveryFailed", "sendingFailed",
        "cost", "statuses", "suppressed"]
    assert schema["properties"]["cost"] == {"anyOf": [{"type": "number"}, {"type": "null"}]}


def test_the_rejected_event_built_directly_equals_the_reflected_form() -> None:
    """Rejected's fast to_json names the same fields, in the same order, as every event's."""
    for rejection in (Rejection(3, 4, "+1", INVALID_NUMBER, "bad"),
                      Rejection(7, None, None, "SMS-CAR-411", "x", "b1", SERVER)):
        event = Rejected.of(rejection)
        reflected = {"event": "rejected", **events._json_of(event)}
        assert list(event.to_json().items()) == list(reflected.items())


def test_a_runs_events_say_when_in_utc_and_which_run() -> None:
    """Each event a run emits carries its UTC ISO 8601 time from the run's wall clock, to the
    millisecond, and the run's id; parsing one back ignores them."""
    now = [1_700_000_000.1234]
    stamped = events.Stamper("abc", lambda: now[0])
    first = stamped(SAMPLES[0].to_json())
    now[0] += 61.5
    later = stamped(SAMPLES[1].to_json())
    assert (first["time"], first["runId"]) == ("2023-11-14T22:13:20.123Z", "abc")
    assert later["time"] == "2023-11-14T22:14:21.623Z"
    assert events.parse(later) == SAMPLES[1]


def test_the_consent_events_read_at_is_to_the_millisecond_like_its_time() -> None:
    """readAt is written as ``time`` is (UTC, milliseconds, Z), not to the microsecond:
    one timestamp form in one event."""
    from engine.run.consent import Consents

    read = Consents("account", "+16505550100", "export", 1, 1_764_000_000.710228, None, 0,
                    "why")
    stamped = events.Stamper("run", lambda: 1_764_000_000.737)(read.event().to_json())
    assert stamped["readAt"] == "2025-11-24T16:00:00.710Z"
    assert stamped["time"] == "2025-11-24T16:00:00.737Z"
