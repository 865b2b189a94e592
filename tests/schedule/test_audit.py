"""The simulator's audit (engine/simulator/audit.py) catches what issue 22 forbids: a message
processed outside its recipient's window (read with zoneinfo in the recipient's own zone,
across a DST change), a recipient processed twice, and a cap day over the cap."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import aiohttp

from engine.config.credentials import DEMO_CREDENTIALS
from engine.schedule.rules import parse_quiet_hours
from engine.simulator.audit import Audit, audit
from engine.simulator.settings import SimulatorSettings
from engine.simulator.store import Store
from tests.conftest import SENDER, FakeClock, MakeSimulator, bearer, login

STRICT = parse_quiet_hours("strict")
A2P = "/restapi/v1.0/account/~/a2p-sms/batches"


def at(text: str) -> float:
    """An ISO 8601 instant (with its offset) as epoch seconds."""
    return datetime.fromisoformat(text).timestamp()


def store_with(*sends: tuple[str, str], rate: float = 1e6) -> Store:
    """A store where each (number, instant) was one batch of one message, processed 1/rate
    seconds after it was accepted."""
    store = Store(replace(SimulatorSettings(credentials=DEMO_CREDENTIALS),
                          messages_per_second=rate, failure_rate=0.0))
    for number, instant in sends:
        store.create_batch({"from": SENDER, "text": "Hi", "messages": [{"to": [number]}]},
                           at(instant))
    return store


def flagged(result: Audit) -> dict[str, list[str]]:
    """The numbers flagged outside their window, each with its local times then."""
    return {o.to: [t.isoformat(timespec="minutes") for t in o.stamp.local]
            for o in result.outside}


def judged(*sends: tuple[str, str], policy: str = "strict") -> Audit:
    store = store_with(*sends)
    return audit(store, at("2027-01-01T00:00:00+00:00"), parse_quiet_hours(policy))


def test_a_message_at_six_in_the_morning_local_is_caught() -> None:
    """A Los Angeles number texted at 06:00 Pacific is outside 8:00-21:00; at 08:00 it is not."""
    result = judged(("+13105550123", "2026-03-07T06:00:00-08:00"),
                    ("+13105550124", "2026-03-07T08:00:00-08:00"))
    assert flagged(result) == {"+13105550123": ["2026-03-07T06:00-08:00"]}
    assert result.outside[0].windows == ("08:00-21:00",)
    assert result.processed == 2
    assert not result.clean


def test_a_recipient_processed_twice_is_caught() -> None:
    """The same number in two batches, both inside its window, is a repeat; others are not."""
    result = judged(("+13105550123", "2026-03-07T10:00:00-08:00"),
                    ("+13105550199", "2026-03-07T10:05:00-08:00"),
                    ("+13105550123", "2026-03-07T11:00:00-08:00"))
    assert result.outside_count == 0
    assert (result.repeated_count, result.repeated) == (1, [("+13105550123", 2)])
    assert not result.clean


def test_the_spring_forward_day_is_read_with_zoneinfo_not_a_fixed_offset() -> None:
    """On 2026-03-08 New York springs forward: 07:30Z is 03:30 EDT (2:30 does not exist) and
    is caught; 12:30Z is 08:30 EDT, inside (a fixed -05:00 would call it 07:30); 00:30Z the
    next day is 20:30 EDT, past Florida's 20:00 for Tallahassee (a fixed -05:00: 19:30)."""
    result = judged(("+12125550100", "2026-03-08T07:30:00+00:00"),
                    ("+12125550101", "2026-03-08T12:30:00+00:00"),
                    ("+18502220100", "2026-03-09T00:30:00+00:00"))
    assert flagged(result) == {"+12125550100": ["2026-03-08T03:30-04:00"],
                               "+18502220100": ["2026-03-08T20:30-04:00"]}
    assert dict(zip((o.to for o in result.outside), (o.windows for o in result.outside),
                    strict=True)) == {"+12125550100": ("08:00-21:00",),
                                      "+18502220100": ("08:00-20:00",)}


def test_arizona_hawaii_indiana_and_the_two_halves_of_850_each_keep_their_clock() -> None:
    """On 2026-07-01 (summer): Phoenix keeps MST (14:30Z is 07:30 there, not 08:30), Honolulu
    HST, Indianapolis EDT, 219 spans Central and Eastern (the hours open in both), and 850-432
    Pensacola is Central while 850-222 Tallahassee is Eastern."""
    result = judged(
        ("+16025550100", "2026-07-01T14:30:00+00:00"),  # Phoenix 07:30: caught
        ("+16025550101", "2026-07-01T15:30:00+00:00"),  # Phoenix 08:30
        ("+18085550100", "2026-07-01T17:30:00+00:00"),  # Honolulu 07:30: caught
        ("+18085550101", "2026-07-01T18:30:00+00:00"),  # Honolulu 08:30
        ("+13175550100", "2026-07-01T11:30:00+00:00"),  # Indianapolis 07:30: caught
        ("+13175550101", "2026-07-01T12:30:00+00:00"),  # Indianapolis 08:30
        ("+12195550100", "2026-07-01T12:30:00+00:00"),  # Gary 07:30 Central: caught
        ("+12195550101", "2026-07-01T13:30:00+00:00"),  # 08:30 Central, 09:30 Eastern
        ("+18504320100", "2026-07-01T12:30:00+00:00"),  # Pensacola 07:30 Central: caught
        ("+18502220101", "2026-07-01T12:30:00+00:00"),  # Tallahassee 08:30 Eastern
    )
    assert flagged(result) == {
        "+16025550100": ["2026-07-01T07:30-07:00"],
        "+18085550100": ["2026-07-01T07:30-10:00"],
        "+13175550100": ["2026-07-01T07:30-04:00"],
        "+12195550100": ["2026-07-01T07:30-05:00", "2026-07-01T08:30-04:00"],
        "+18504320100": ["2026-07-01T07:30-05:00"],
    }


def test_a_toll_free_number_gets_the_hours_open_everywhere_and_canada_its_own_zone() -> None:
    """A toll-free number is judged in every US zone under every state's rules (on a
    Wednesday: 9:00-18:00 everywhere), so 18:00Z (08:00 in Honolulu) is caught and 20:00Z is
    not; Toronto's 21:30 EDT is caught and 20:30 is not."""
    result = judged(("+18005550100", "2026-07-01T18:00:00+00:00"),
                    ("+18005550101", "2026-07-01T20:00:00+00:00"),
                    ("+14165550100", "2026-07-02T01:30:00+00:00"),
                    ("+14165550101", "2026-07-02T00:30:00+00:00"))
    assert sorted(flagged(result)) == ["+14165550100", "+18005550100"]
    toll_free = next(o for o in result.outside if o.to == "+18005550100")
    assert toll_free.stamp.placement.source == "fallback"
    assert "2026-07-01T08:00-10:00" in flagged(result)["+18005550100"]
    assert set(toll_free.windows) == {"09:00-18:00"}


def test_each_cap_day_starts_at_midnight_in_los_angeles_and_a_day_over_the_cap_is_named() -> None:
    """23:59 and 00:00 Pacific fall on two cap days; with a cap of 2 the day of 3 is over."""
    store = store_with(("+13105550100", "2026-03-06T20:00:00-08:00"),
                       ("+13105550101", "2026-03-06T20:30:00-08:00"),
                       ("+18085550102", "2026-03-06T23:59:00-08:00"),
                       ("+13105550103", "2026-03-07T00:00:00-08:00"))
    result = audit(store, at("2027-01-01T00:00:00+00:00"), parse_quiet_hours("off"),
                   daily_cap=2)
    assert result.per_cap_day == {"2026-03-06": 3, "2026-03-07": 1}
    assert result.over_cap == {"2026-03-06": 3}
    assert result.outside_count == 0  # off: no window to judge


def test_a_clean_run_is_clean_and_a_queued_message_is_not_judged_yet() -> None:
    """A message processed inside its window, once, under the cap: clean; one accepted at
    10:00:00 and still queued at 10:00:30 (a message a minute) is counted, not judged."""
    store = store_with(("+13105550100", "2026-03-07T09:00:00-08:00"),
                       ("+13105550101", "2026-03-07T10:00:00-08:00"), rate=1 / 60)
    result = audit(store, at("2026-03-07T10:00:30-08:00"), STRICT, daily_cap=5)
    assert (result.processed, result.queued, result.clean) == (1, 1, True)


async def test_the_audit_endpoint_reports_the_same_over_http(
        make_simulator: MakeSimulator, clock: FakeClock, http: aiohttp.ClientSession) -> None:
    """GET /_sim/audit?quietHours=strict lists a 06:00 local message with its local time,
    and the ledger with stamps gives each message's processing and local time."""
    running = await make_simulator(messages_per_second=1e6)
    clock.now = at("2026-03-07T06:00:00-08:00")
    headers = bearer(await login(http, running.url))
    body = {"from": SENDER, "text": "Hi", "messages": [{"to": ["+13105550123"]}]}
    async with http.post(running.url + A2P, json=body, headers=headers) as response:
        assert response.status == 201
    clock.advance(60)
    async with http.get(f"{running.url}/_sim/audit?quietHours=strict&dailyCap=1") as response:
        found = await response.json()
    assert (found["processed"], found["outsideWindow"], found["clean"]) == (1, 1, False)
    assert [t[:19] for t in found["outside"][0]["local"]] == ["2026-03-07T06:00:00"]
    assert found["perCapDay"] == {"2026-03-07": 1}
    assert found["overCap"] == {}
    async with http.get(f"{running.url}/_sim/ledger?stamps=1") as response:
        entry = (await response.json())["entries"][0]
    assert entry[4]["zones"] == ["America/Los_Angeles"]
    assert entry[4]["processedAt"][:19] == "2026-03-07T14:00:00"
    async with http.get(f"{running.url}/_sim/audit?quietHours=sometimes") as response:
        assert response.status == 400
