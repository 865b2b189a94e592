"""RingCentral's opt-outs read before the first POST (engine/run/consent.py) against the
simulator: a recipient who opted out is never POSTed (to any number of the account under the
default scope, to --from alone under ``pair``), counted alike in the report and the events;
the read is cached beside the journal, reused within --max-consent-age and asked again with
If-None-Match after; a refused read stops the run before any POST."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.core import consent as rules
from engine.core.rejections import OPTED_OUT
from engine.errors import ConsentError
from engine.rc.client import ApiClient
from engine.rc.transport import AiohttpTransport
from engine.run.consent import read_consents
from engine.types import Report
from tests.e2e.conftest import SENDER, Start, StopAfter, ledger_numbers
from tests.fakes import FakeA2P, MockTransport, Request, reply
from tests.fakes import settings as fake_settings

OTHER = "+16505550101"  # another sender of the account (tests/conftest.py sim_settings)


def numbers(n: int) -> list[str]:
    return [f"+1415555{i:04d}" for i in range(n)]


def opt_out(running: Any, sender: str, to: str) -> None:
    running.simulator.store.consents.set(sender, to, "OptOut", "Recipient", time.time())


async def run(items: list[str], settings: engine.Settings, **options: Any
              ) -> tuple[Report, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []

    async def collect(event: dict[str, Any]) -> None:
        events.append(event)

    report = await engine.send(items, sender=SENDER, text="Hi", config=settings,
                               credentials=DEMO_CREDENTIALS, on_event=collect,
                               max_batch_messages=50, **options)
    return report, events


def suppressed_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == "rejected" and e["errorCode"] == OPTED_OUT]


async def test_account_scope_suppresses_opt_outs_to_any_sender(start: Start) -> None:
    """Under the default scope, recipients opted out to --from or to another number of the
    account are never POSTed; report and events count them alike, by source consent."""
    running, settings = await start()
    items = numbers(300)
    rng = random.Random(7)
    mine = set(rng.sample(items, 12))
    elsewhere = set(rng.sample(sorted(set(items) - mine), 9))
    for to in mine:
        opt_out(running, SENDER, to)
    for to in elsewhere:
        opt_out(running, OTHER, to)
    report, events = await run(items, settings)
    sent = ledger_numbers(running)
    assert not (mine | elsewhere) & set(sent)
    assert sorted(sent) == sorted(set(items) - mine - elsewhere)
    assert report["totals"]["suppressed"] == {"consent": 21}
    shown = suppressed_events(events)
    assert {e["to"] for e in shown} == mine | elsewhere
    by_to = {e["to"]: e["description"] for e in shown}
    assert all(rules.CONSENT_MARK in d and OTHER in by_to[t] for t, d in by_to.items()
               if t in elsewhere)
    assert {r["to"] for r in report["rejected"] if r["errorCode"] == OPTED_OUT} == \
        mine | elsewhere


async def test_pair_scope_suppresses_only_opt_outs_to_the_sender(start: Start) -> None:
    """Under --suppress-scope pair only the opt-outs to --from are suppressed; a recipient
    opted out to another number of the account is sent."""
    running, settings = await start()
    items = numbers(120)
    for to in items[:5]:
        opt_out(running, SENDER, to)
    for to in items[5:12]:
        opt_out(running, OTHER, to)
    report, events = await run(items, settings, suppress_scope="pair")
    sent = set(ledger_numbers(running))
    assert not set(items[:5]) & sent
    assert set(items[5:12]) <= sent
    assert report["totals"]["suppressed"] == {"consent": 5}
    assert len(suppressed_events(events)) == 5


async def test_file_and_consent_counted_apart(start: Start, tmp_path: Path) -> None:
    """A --suppress list and the consent records are counted by source, exactly."""
    running, settings = await start()
    items = numbers(100)
    listed = tmp_path / "dnc.txt"
    listed.write_text("".join(f"{n}\n" for n in items[:4]))
    for to in items[10:13]:
        opt_out(running, OTHER, to)
    report, events = await run(items, settings, suppress=[str(listed)])
    assert report["totals"]["suppressed"] == {"file": 4, "consent": 3}
    assert len(suppressed_events(events)) == 7
    assert not set(items[:4] + items[10:13]) & set(ledger_numbers(running))


async def test_cache_reused_within_max_age_then_asked_with_etag(start: Start,
                                                                tmp_path: Path) -> None:
    """A read is cached: within the max age no request is made; after it the export is asked
    with If-None-Match (a 304 keeps the cache), and a change is read anew."""
    running, settings = await start()
    for k in range(1500):  # more than a search page: the export is the cheaper read
        opt_out(running, OTHER, f"+1202555{k:04d}")
    cache = tmp_path / "run.journal.consents"
    transport = AiohttpTransport(10.0)
    client = ApiClient(settings, DEMO_CREDENTIALS, transport, clock=time.monotonic,
                       sleep=__import__("anyio").sleep)
    try:
        first = await read_consents(client, SENDER, "account", 900.0, cache, time.time)
        assert (first.method, first.requests, first.opt_outs) == (rules.EXPORT, 1, 1500)
        again = await read_consents(client, SENDER, "account", 900.0, cache, time.time)
        assert (again.method, again.requests, len(again.set)) == (rules.CACHED, 0, 1500)
        stale = await read_consents(client, SENDER, "account", 0.0, cache, time.time)
        assert (stale.method, stale.requests, len(stale.set)) == (rules.CONDITIONAL, 1, 1500)
        assert running.simulator.stats.get("304", 0) == 1
        opt_out(running, SENDER, "+14155550000")
        changed = await read_consents(client, SENDER, "account", 0.0, cache, time.time)
        assert (changed.method, changed.opt_outs) == (rules.CONDITIONAL, 1501)
        assert "+14155550000" in {n for n in ["+14155550000"] if changed.set.hits([n])}
    finally:
        await client.revoke()
        await transport.close()


async def test_refused_consent_read_stops_before_any_post() -> None:
    """A 403 on the consent read (the app lacks the SMS permission) stops the run before any
    POST, saying what to do; --no-consent sends."""
    fake = FakeA2P()

    def handler(request: Request) -> Any:
        if "/sms/consents" in request.path:
            return reply(403, {"errorCode": "CMN-408", "message": "In order to call this API "
                               "endpoint, application needs to have [SMS] permission"})
        return fake(request)

    transport = MockTransport(handler)
    with pytest.raises(ConsentError, match=r"SMS permission.*--no-consent"):
        await engine.send(["+14155550100"], sender=SENDER, text="Hi",
                          config=fake_settings(), credentials=DEMO_CREDENTIALS,
                          transport=transport, preflight=False)
    assert transport.sent("POST", "/batches") == []
    report = await engine.send(["+14155550100"], sender=SENDER, text="Hi",
                               config=fake_settings(), credentials=DEMO_CREDENTIALS,
                               transport=transport, preflight=False, consent=False)
    assert report["totals"]["sent"] == 1
    assert len(transport.sent("POST", "/batches")) == 1


async def test_resume_after_stop_suppresses_new_opt_outs_not_yet_sent(start: Start,
                                                                      tmp_path: Path) -> None:
    """A run stopped mid-list, then STOPs arrive (to --from and to another sender): the
    resume (the cache older than --max-consent-age) suppresses those not yet sent, leaves
    those already sent as sent, and never POSTs a suppressed recipient or anyone twice."""

    running, settings = await start()
    items = numbers(400)
    for to in items[3:400:40]:  # opted out before the run: inside the first chunks too
        opt_out(running, OTHER, to)
    before = set(items[3:400:40])
    journal = tmp_path / "run.journal"
    after = StopAfter("batch_completed")
    stop, stop_after_first = after.stop, after.on_event

    first = await engine.send(items, sender=SENDER, text="Hi", config=settings,
                              credentials=DEMO_CREDENTIALS, on_event=stop_after_first,
                              max_batch_messages=50, concurrency=1, journal=journal,
                              stop=stop)
    assert first["status"] == "interrupted"
    sent_first = set(ledger_numbers(running))
    assert sent_first
    assert not sent_first & before
    unsent = [n for n in items if n not in sent_first and n not in before]
    late = set(unsent[-30::3])  # opted out during the stop
    assert len(late) == 10
    for k, to in enumerate(sorted(late)):
        running.simulator.store.consents.inbound(SENDER if k % 2 else OTHER, to, "STOP",
                                                 time.time())
    already = sorted(sent_first)[:3]  # opted out after their text: they stay sent
    for to in already:
        running.simulator.store.consents.inbound(SENDER, to, "STOP", time.time())
    events: list[dict[str, Any]] = []

    async def collect(event: dict[str, Any]) -> None:
        events.append(event)

    report = await engine.send(items, config=settings, credentials=DEMO_CREDENTIALS,
                               resume=journal, on_event=collect, max_consent_age=0.0)
    ledger = ledger_numbers(running)
    assert len(ledger) == len(set(ledger))  # nobody twice
    assert not set(ledger) & (before | late)
    assert set(already) <= set(ledger)
    assert sorted(ledger) == sorted(set(items) - before - late)
    assert report["status"] == "completed"
    assert report["totals"]["suppressed"] == {"consent": len(before | late)}
    assert report["totals"]["sent"] == len(ledger)
    assert {r["to"] for r in report["rejected"] if r["errorCode"] == OPTED_OUT} == \
        before | late


async def test_local_rejections_journaled_in_position_order(start: Start,
                                                            tmp_path: Path) -> None:
    """Bad numbers and consent-suppressed recipients mixed through a list are journaled as
    one ascending run, so a resume or outcomes streams them without sorting in memory."""
    from engine.run.journal import read_journal

    running, settings = await start()
    items = numbers(3000)
    for k in range(0, 3000, 7):
        items[k] = f"bad{k}"
    for to in items[1::11]:
        if to.startswith("+"):
            opt_out(running, OTHER, to)
    journal = tmp_path / "run.journal"
    report, _ = await run(items, settings, journal=journal)
    state = read_journal(journal)
    assert report["totals"]["suppressed"]["consent"] > 200
    assert report["totals"]["rejectedLocal"] == len(state.local)
    assert len(state.local_runs) == 1


async def test_fresh_run_never_uses_a_cache_another_run_left(start: Start, tmp_path: Path
                                                              ) -> None:
    """A fresh run on a journal path whose cache another run left (another account's,
    say) reads the opt-outs anew: a recipient who opted out since is not texted."""
    running, settings = await start()
    journal = tmp_path / "run.journal"
    first, _ = await run(numbers(10), settings, journal=journal)
    assert first["totals"]["sent"] == 10
    assert await anyio.Path(f"{journal}.consents").is_file()
    journal.unlink()  # the journal goes; its cache stays, within --max-consent-age
    later = numbers(20)[10:]
    opt_out(running, SENDER, later[3])
    report, _ = await run(later, settings, journal=journal)
    ledger = ledger_numbers(running)
    assert later[3] not in ledger
    assert report["totals"]["suppressed"] == {"consent": 1}
    assert report["totals"]["sent"] == 9
