"""A resume reads RingCentral's opt-outs again whatever --max-consent-age says (a STOP may
have come while the run was stopped): with If-None-Match on the export when the last read
was the export, a 304 when nothing changed; it keeps its run's --suppress-scope and refuses
another; the report and the events tell how each read was made."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.core.rejections import OPTED_OUT
from engine.errors import UsageError
from engine.types import Scope
from tests.e2e.conftest import SENDER, Start, StopAfter, ledger_numbers

OTHER = "+16505550101"  # another sender of the account (tests/conftest.py sim_settings)


def numbers(n: int) -> list[str]:
    return [f"+1415555{i:04d}" for i in range(n)]


async def stopped_run(running: Any, settings: engine.Settings, items: list[str],
                      journal: Path, **options: Any) -> set[str]:
    """A run with the default --max-consent-age, stopped once its first batch is accepted:
    the numbers it texted (a part of ``items``)."""
    after = StopAfter()
    stop, stop_after_first = after.stop, after.on_event

    first = await engine.send(items, sender=SENDER, text="Hi", config=settings,
                              credentials=DEMO_CREDENTIALS, on_event=stop_after_first,
                              max_batch_messages=50, concurrency=1, journal=journal,
                              stop=stop, **options)
    assert first["status"] == "interrupted"
    sent = set(ledger_numbers(running))
    assert sent < set(items)
    return sent


@pytest.mark.parametrize("elsewhere", [0, 1500])  # the search; the export with its ETag
async def test_resume_within_max_age_suppresses_a_stop_during_the_stop(
        start: Start, tmp_path: Path, elsewhere: int) -> None:
    """A STOP to another number of the account while the run was stopped: the resume, with
    the default options (well within --max-consent-age), never texts that recipient and
    counts it suppressed."""
    running, settings = await start()
    for k in range(elsewhere):  # opt-outs of numbers not on the list
        running.simulator.store.consents.set(OTHER, f"+1202555{k:04d}", "OptOut",
                                             "Recipient", time.time())
    items = numbers(400)
    journal = tmp_path / "run.journal"
    sent_first = await stopped_run(running, settings, items, journal)
    victim = next(n for n in reversed(items) if n not in sent_first)
    running.simulator.store.consents.inbound(OTHER, victim, "STOP", time.time())
    report = await engine.send(items, config=settings, credentials=DEMO_CREDENTIALS,
                               resume=journal)
    ledger = ledger_numbers(running)
    assert victim not in ledger
    assert sorted(ledger) == sorted(set(items) - {victim})
    assert report["totals"]["suppressed"] == {"consent": 1}
    assert [r["to"] for r in report["rejected"] if r["errorCode"] == OPTED_OUT] == [victim]


async def test_resume_with_nothing_changed_costs_a_304(start: Start, tmp_path: Path) -> None:
    """A resume after an export read asks it again with If-None-Match: one 304, nothing
    suppressed that was not before."""
    running, settings = await start()
    for k in range(1500):
        running.simulator.store.consents.set(OTHER, f"+1202555{k:04d}", "OptOut",
                                             "Recipient", time.time())
    items = numbers(300)
    journal = tmp_path / "run.journal"
    await stopped_run(running, settings, items, journal)
    assert running.simulator.stats.get("304", 0) == 0
    report = await engine.send(items, config=settings, credentials=DEMO_CREDENTIALS,
                               resume=journal)
    assert running.simulator.stats.get("304", 0) == 1
    assert sorted(ledger_numbers(running)) == sorted(items)
    assert report["status"] == "completed"


async def test_report_and_events_tell_how_the_opt_outs_were_read(start: Start,
                                                                  tmp_path: Path) -> None:
    """The report's ``consent`` and the ``consent`` event tell the scope, the method, the
    requests and the counts of each read: the export on the run, the export with its ETag
    (a 304) on the resume; under --no-consent the report says null and no event comes."""
    from engine.run.report import schema as report_schema

    jsonschema = pytest.importorskip("jsonschema")
    running, settings = await start()
    for k in range(1500):
        running.simulator.store.consents.set(OTHER, f"+1202555{k:04d}", "OptOut",
                                             "Recipient", time.time())
    items = numbers(300)
    running.simulator.store.consents.set(OTHER, items[-1], "OptOut", "Recipient", time.time())
    journal = tmp_path / "run.journal"
    events: list[dict[str, Any]] = []

    async def collect(event: dict[str, Any]) -> None:
        events.append(event)

    await stopped_run(running, settings, items, journal)
    report = await engine.send(items, config=settings, credentials=DEMO_CREDENTIALS,
                               resume=journal, on_event=collect)
    consent = report["consent"]
    assert consent is not None
    assert {k: consent[k] for k in ("scope", "method", "requests", "cached", "optOuts",
                                    "inScope")} == \
        {"scope": "account", "method": "conditional-export", "requests": 1, "cached": False,
         "optOuts": 1501, "inScope": 1501}
    assert consent["etag"]
    assert consent["readAt"].endswith("Z")
    shown = [e for e in events if e["event"] == "consent"]
    assert [{k: v for k, v in e.items() if k not in ("event", "time", "runId")}
            for e in shown] == [consent]
    jsonschema.validate(orjson.loads(orjson.dumps(report, default=list)), report_schema())
    bare = await engine.send(items[:5], sender=SENDER, text="Hi", config=settings,
                             credentials=DEMO_CREDENTIALS, consent=False)
    assert bare["consent"] is None


@pytest.mark.parametrize(("first", "given"), [("account", "pair"), ("pair", "account")])
async def test_resume_with_another_scope_is_refused(start: Start, tmp_path: Path,
                                                    first: Scope, given: Scope) -> None:
    """A resume given another --suppress-scope than its run's is refused (a UsageError,
    exit 2), naming both, before any POST; without it the run's scope is kept."""
    running, settings = await start()
    items = numbers(200)
    journal = tmp_path / "run.journal"
    sent_first = await stopped_run(running, settings, items, journal, suppress_scope=first)
    victim = next(n for n in reversed(items) if n not in sent_first)
    running.simulator.store.consents.inbound(OTHER, victim, "STOP", time.time())
    with pytest.raises(UsageError, match=rf"--suppress-scope {given}.*--suppress-scope "
                       rf"{first}"):
        await engine.send(items, config=settings, credentials=DEMO_CREDENTIALS,
                          resume=journal, suppress_scope=given)
    assert set(ledger_numbers(running)) == sent_first
    report = await engine.send(items, config=settings, credentials=DEMO_CREDENTIALS,
                               resume=journal)
    assert report["consent"] is not None
    assert report["consent"]["scope"] == first
    assert (victim in ledger_numbers(running)) == (first == "pair")
