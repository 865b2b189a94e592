"""Outcomes agree with the report after any sequence of stops and resumes: random stops (before
the login, while chunks are read, after some batches, while planned chunks wait for the rate
budget) each followed by a resume, against the in-process simulator."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.config.settings import RateLimitSettings
from engine.results.export import Export
from engine.results.names import FROM_STORE
from engine.simulator import start_simulator
from engine.types import OutcomeFilter, Report
from tests.conftest import sim_settings
from tests.e2e.conftest import SENDER, engine_settings, ledger_numbers
from tests.lists import any_country, scattered

# (kind, at, limit): "login" stops before the first request; "read" once ``at`` records were
# read (chunks cut and not yet sent are dropped, or planned and held); "submitted" after
# ``at`` batches went out, while other planned chunks wait for the rate budget. ``limit``:
# the byte limit that run is given (a resume may cut the chunks it re-cuts smaller, so they
# span the ranges of chunks it skips).
LIMITS = st.one_of(st.none(), st.integers(300, 3000))
STOPS = st.one_of(st.tuples(st.just("login"), st.just(0), LIMITS),
                  st.tuples(st.just("read"), st.integers(1, 200), LIMITS),
                  st.tuples(st.just("submitted"), st.integers(1, 4), LIMITS))


async def run_once(listing: Path, journal: Path, report: Path, settings: engine.Settings,
                   max_bytes: int | None, stop_kind: str | None, at: int, resume: bool
                   ) -> Report:
    """One ``send`` (``resume``: once the journal exists) stopped as ``stop_kind`` says."""
    stop = anyio.Event()
    if stop_kind == "login":
        stop.set()
    submitted = [0]

    async def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "chunk_submitted":
            submitted[0] += 1
            if stop_kind == "submitted" and submitted[0] >= at:
                stop.set()

    def on_read(records: int, share: float | None) -> None:
        if stop_kind == "read" and records >= at:
            stop.set()

    # no pre-flight and no opt-out read: their requests would take from the tight Light
    # budget whose timing makes the stops find chunks waiting (tests/e2e/test_consent.py
    # covers opt-outs across stops and resumes)
    options: dict[str, Any] = {"config": settings, "credentials": DEMO_CREDENTIALS,
                               "stop": stop, "on_event": on_event, "on_read": on_read,
                               "report": report, "concurrency": 3, "preflight": False,
                               "consent": False}
    if resume:
        return await engine.send(resume=journal, max_batch_bytes=max_bytes, **options)
    return await engine.send(listing, sender=SENDER, text="Hi", read=any_country(),
                             max_batch_bytes=max_bytes or 1000, journal=journal, **options)


async def outcome_rows(journal: Path, settings: engine.Settings,
                       only: tuple[OutcomeFilter, ...] = ()
                       ) -> tuple[list[Any], dict[str, Any]]:
    async with Export(journal, config=settings, credentials=DEMO_CREDENTIALS,
                      only=only) as export:
        rows = [row async for row in export.rows()]
    return rows, export.totals.as_json()


async def scenario(tmp: Path, n: int, max_bytes: int, stops: list[tuple[str, int, int | None]],
                   seed: int, varied: bool = True, window: float = 0.5) -> tuple[int, int]:
    """The checks above; returns how many chunks the resumes superseded, and how many they
    cut around the range of a chunk they skipped (with ``gaps``). ``window``: the Light
    budget's window of the runs that stop (longer: chunks surely wait for it at a stop).
    ``varied``: records of
    varied size (a text column of 1 to 80 characters), so chunks re-cut by a resume under
    another limit end elsewhere than the chunks they replace; else numbers alone."""
    rng = __import__("random").Random(seed)
    numbers, local, server = scattered(n, rng, bad=0.05)
    texts = ["x" * rng.randint(1, 80) for _ in numbers]
    # no carrier failures: every recipient texted is delivered, none is retryable
    running = await start_simulator(sim_settings(messages_per_second=1e6, failure_rate=0.0))
    try:
        settings = engine_settings(running.url)
        # a tight Light budget for the runs that stop, so a stop finds planned chunks waiting
        # for it (held: journaled planned, never sent)
        tight = replace(settings, rate_limit=RateLimitSettings(
            light_requests=2, light_window=window, auth_requests=1_000,
            default_retry_after=0.2))
        listing = tmp / f"list-{seed}-{n}.csv"
        listing.write_text("to,text\n" + "".join(f"{x},{t}\n" for x, t in zip(numbers, texts,
                                                                              strict=True))
                           if varied else "to\n" + "".join(f"{x}\n" for x in numbers))
        journal, report_path = tmp / f"run-{seed}-{n}.journal", tmp / f"run-{seed}-{n}.json"
        for path in (journal, report_path):
            path.unlink(missing_ok=True)
        for k, (kind, at, limit) in enumerate(stops):
            stopped = await run_once(listing, journal, report_path, tight,
                                     max_bytes if k == 0 else limit, kind, at, journal.exists())
            assert stopped["status"] in ("interrupted", "completed")
        report: Report | None = None
        for _ in range(3):  # bounded: the first run without a stop finishes
            report = await run_once(listing, journal, report_path, settings,
                                    max_bytes if not journal.exists() else None, None, 0,
                                    journal.exists())
            if report["status"] == "completed":
                break
        rows, totals = await outcome_rows(journal, settings)
        retry, _ = await outcome_rows(journal, settings, ("retryable",))
        ledger = ledger_numbers(running)
        entries = [orjson.loads(x) for x in journal.read_bytes().splitlines()] \
            if journal.exists() else []
    finally:
        await running.stop()
    assert report is not None
    assert report["status"] == "completed", report["totals"]
    valid = [x for i, x in enumerate(numbers) if i not in local | server]
    assert sorted(ledger) == sorted(valid)  # each texted once
    assert [row.position for row in rows] == list(range(n))  # one row per record
    count = Counter(row.outcome for row in rows)
    expected = report["totals"]
    assert totals["rows"] == expected["records"] == n
    assert count["rejected-local"] == expected["rejectedLocal"] == len(local)
    assert count["rejected-server"] == expected["rejectedServer"] == len(server)
    assert sum(count[o] for o in FROM_STORE) == expected["sent"] == len(valid)
    assert count["not-sent"] == count["unknown"] == 0
    assert round(totals["cost"], 6) == round(expected["cost"] or 0.0, 6)
    assert retry == []  # everyone was texted: the follow-up list is empty
    return (sum(e["type"] == "superseded" for e in entries),
            sum(bool(e.get("gaps")) for e in entries))


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 250), max_bytes=st.integers(300, 3000),
       stops=st.lists(STOPS, min_size=1, max_size=4), seed=st.integers(0, 10_000))
def test_outcomes_equal_the_report_after_any_stops_and_resumes(
        tmp_path_factory: Any, n: int, max_bytes: int, stops: list[tuple[str, int, int | None]],
        seed: int) -> None:
    """After random stops and resumes, each valid recipient is texted once, every record
    has one row, the outcomes' totals are the report's, and --only retryable is empty."""
    asyncio.run(scenario(tmp_path_factory.mktemp("runs"), n, max_bytes, stops, seed))


def test_a_stop_while_planned_chunks_wait_then_a_stop_before_login_then_resume(
        tmp_path: Path) -> None:
    """The case of the issue: chunks left planned by a stop, a resume stopped before it
    sends anything (it has already marked them superseded), then a resume that re-cuts
    them: nobody is counted twice or left not-sent."""
    superseded = 0
    for _ in range(20):  # whether a chunk waits for the budget at the stop is timing: bounded
        superseded, _ = asyncio.run(scenario(tmp_path, 240, 600, [("submitted", 2, None),
                                                                  ("login", 0, None),
                                                                  ("submitted", 1, None)], 7,
                                             varied=False, window=5.0))
        if superseded:
            break
    assert superseded >= 1  # the case really arose: a chunk held planned, then re-cut


@pytest.mark.slow
def test_resumes_under_another_limit_cut_chunks_around_skipped_ones(tmp_path: Path) -> None:
    """Stops with batches in flight and resumes under another byte limit, records of varied
    size: a resume cuts a chunk around the range of one it skipped, and still nobody is
    texted twice or left unsent, and outcomes equal the report (cases the property test
    found; whether a chunk is in flight at a stop depends on timing, so a few runs, bounded,
    until one arises)."""
    cases = [(96, 538, [("submitted", 3, None), ("login", 0, 616), ("login", 0, 616),
                        ("submitted", 4, 1862)], 7482),
             (250, 382, [("read", 136, None), ("read", 37, 1430), ("login", 0, 567)], 1223)]
    spanning = 0
    # the case arises in about one run in four of the second case: 40 runs (about 12 s at
    # most) leave well under a chance in a thousand that it never does
    for attempt in range(40):
        n, max_bytes, stops, seed = cases[attempt % 2]
        _, spanning = asyncio.run(scenario(tmp_path, n, max_bytes, stops, seed))
        if spanning:
            break
    assert spanning >= 1  # the case really arose
