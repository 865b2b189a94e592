"""A scheduled send's options and limits (engine/run/scheduling.py, engine/run/rounds.py),
without a server: validation, the journal header's schedule, the block filter, the quota,
and when the next round is (the cap ledger: tests/test_capledger.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson
import pytest

from engine.errors import UsageError
from engine.reading import Block
from engine.run.capledger import RoundCap, carrier_halt
from engine.run.options import SendOptions
from engine.run.roundreport import CAP_HOLD, holds, report_of
from engine.run.rounds import Outlook
from engine.run.scheduling import (
    Eligible,
    Keys,
    Quota,
    Scheduling,
    parse_scheduling,
    resumed_scheduling,
)
from engine.schedule.caps import cap_day
from engine.schedule.rules import parse_quiet_hours
from engine.schedule.waves import status_at
from engine.schedule.windows import WindowKey
from engine.schedule.zones import Placer

NOON_UTC = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # 07:00 Eastern, 04:00 Pacific


def block(numbers: list[str], first: int = 0) -> Block:
    return Block(numbers, None, list(range(first, first + len(numbers))), None)


@pytest.mark.parametrize(("options", "flag"), [
    ({"quiet_hours": "evenings"}, "--quiet-hours"),
    ({"quiet_hours": "22:00-23:00"}, "--quiet-hours"),
    ({"daily_cap": 0}, "--daily-cap"),
    ({"at": "2026-12-05T08:00"}, "--at"),
    ({"expire_at": "tomorrow"}, "--expire-at"),
    ({"at": "2026-12-05T08:00Z", "expire_at": "2026-12-05T07:00Z"}, "--expire-at"),
    ({"window_margin": -1.0}, "--window-margin"),
    ({"tz_column": " "}, "--tz-column"),
])
def test_a_bad_schedule_option_is_a_usage_error_naming_it(options: dict[str, object],
                                                          flag: str) -> None:
    """Each bad schedule option is refused when the options are made, naming the flag."""
    with pytest.raises(UsageError, match=flag):
        SendOptions(sender="+16505550100", text="Hi", **options)  # type: ignore[arg-type]


def test_no_schedule_option_is_today_s_send() -> None:
    """Without schedule options (or with --quiet-hours off) a send is not scheduled."""
    assert not SendOptions().scheduling().active
    assert not SendOptions(quiet_hours="off", window_margin=300).scheduling().active
    assert SendOptions(daily_cap=10).scheduling().active
    assert SendOptions(at="2026-12-05T08:00[America/New_York]").scheduling().active


def test_the_header_schedule_reads_back_the_same() -> None:
    """The schedule the journal keeps is the schedule a resume reads."""
    given = parse_scheduling("strict", None, 6000, "2026-12-05T08:00-05:00",
                             "2026-12-07T20:00Z", 300)
    back = Scheduling.from_header(orjson.loads(orjson.dumps(given.as_header())))
    assert back == given


def test_a_resume_with_other_schedule_flags_is_refused() -> None:
    """A resume keeps the journal's schedule: the same flag again is fine, another value or
    a flag the run did not have is refused, like other changed options."""
    header = {"schedule": parse_scheduling("tcpa", daily_cap=100).as_header()}
    same = resumed_scheduling(parse_scheduling("tcpa"), {"--quiet-hours": "tcpa"}, header, "J")
    assert str(same.policy) == "tcpa"
    assert same.cap == 100
    with pytest.raises(UsageError, match="--daily-cap: the run in J began with --daily-cap 100"):
        resumed_scheduling(parse_scheduling(daily_cap=50), {"--daily-cap": 50}, header, "J")
    with pytest.raises(UsageError, match="--quiet-hours"):
        resumed_scheduling(parse_scheduling("tcpa"), {"--quiet-hours": "tcpa"}, {}, "J")
    assert not resumed_scheduling(parse_scheduling(), {}, {}, "J").active


def test_a_resume_may_bring_expire_at_forward_never_later() -> None:
    """A resume may end its run sooner (--expire-at earlier, or `now`: the resume's clock),
    never later; an expiry a resume journaled counts as the journal's; an unscheduled
    journal is not given one; a refusal advises ending the run before a new one."""
    header = {"schedule": parse_scheduling("tcpa", expire_at="2026-12-07T20:00Z").as_header()}
    sooner = parse_scheduling(expire_at="2026-12-06T20:00Z")
    kept = resumed_scheduling(sooner, {"--expire-at": "x"}, header, "J")
    assert kept.expire_at == sooner.expire_at
    assert str(kept.policy) == "tcpa"
    with pytest.raises(UsageError, match="never later") as later:
        resumed_scheduling(parse_scheduling(expire_at="2026-12-08T20:00Z"),
                           {"--expire-at": "x"}, header, "J")
    assert "a2p send --resume J --expire-at now" in str(later.value)
    with pytest.raises(UsageError, match="never later"):  # the journaled one is the bound
        resumed_scheduling(parse_scheduling(expire_at="2026-12-06T21:00Z"),
                           {"--expire-at": "x"}, header, "J", sooner.expire_at)
    with pytest.raises(UsageError, match="not scheduled"):
        resumed_scheduling(sooner, {"--expire-at": "x"}, {}, "J")
    now = SendOptions(resume="J", expire_at="now", wall=lambda: 1_800_000_000.0).scheduling()
    assert now.expire_at == datetime.fromtimestamp(1_800_000_000, UTC)
    with pytest.raises(UsageError, match="'now' ends a scheduled run on a resume"):
        SendOptions(expire_at="now")
    with pytest.raises(UsageError, match="first end this run"):
        resumed_scheduling(parse_scheduling("strict"), {"--quiet-hours": "strict"}, header,
                           "J")


def test_the_filter_removes_closed_recipients_without_rejecting_them() -> None:
    """Only recipients whose key is open pass; the others' positions are simply gone (a
    later round reads them again); nothing is rejected."""
    policy = parse_quiet_hours("tcpa")
    keys = Keys(Placer(), policy)
    eastern, pacific = "+12122000001", "+14152000002"
    east, west = keys(eastern), keys(pacific)
    assert east is not None
    assert west is not None
    status = status_at({east, west}, policy, NOON_UTC + timedelta(hours=1))
    open_now = frozenset(k for k, _ in status.open)
    assert open_now == {east}  # 08:00 Eastern, 05:00 Pacific
    eligible = Eligible(keys, open_now)
    out = list(eligible([block([eastern, pacific, eastern], first=10)]))
    assert [b.positions for b in out] == [[10, 12]]  # position 11 held, not rejected


def test_the_quota_passes_exactly_what_the_day_leaves() -> None:
    """The quota passes exactly N recipients across blocks, then none, reading on."""
    quota = Quota(5)
    seen = []
    blocks = [block([f"+1212200000{i}" for i in range(3)], first=3 * k) for k in range(4)]

    def counted() -> list[Block]:
        out = []
        for b in blocks:
            seen.append(b.positions[0])
            out.append(b)
        return out

    passed = list(quota(counted()))
    assert sum(len(b) for b in passed) == 5
    assert [p for b in passed for p in b.positions] == [0, 1, 2, 3, 4]
    assert seen == [0, 3, 6, 9]  # the whole input was read


def outlook(counts: dict[WindowKey, int], now: datetime, cap: int | None = None,
            sent: int = 0, expire_at: datetime | None = None) -> Outlook:
    policy = parse_quiet_hours("tcpa")
    status = status_at(counts, policy, now, until=expire_at)
    day = cap_day(cap, [(now, sent)] if sent else [], now)
    decision = "expired" if expire_at is not None and now >= expire_at else "send"
    return Outlook(now, counts, status, day, decision, expire_at)


EAST = WindowKey(("America/New_York",), "")
WEST = WindowKey(("America/Los_Angeles",), "")


def test_the_next_round_is_the_next_opening_or_the_next_cap_day() -> None:
    """Before anyone's 8:00 the run waits for the earliest opening; with the day's cap
    full, for 00:00 Pacific; past --expire-at, nothing is next and the rest is expired."""
    early = outlook({EAST: 3, WEST: 2}, NOON_UTC)
    assert early.next_round(None) == (datetime(2026, 11, 20, 13, tzinfo=UTC), "quiet-hours")
    assert report_of(early, parse_scheduling("tcpa"))["totals"]["deferred"] == 5
    full = outlook({EAST: 3}, NOON_UTC + timedelta(hours=2), cap=4, sent=4)
    assert full.next_round(None) == (datetime(2026, 11, 21, 8, tzinfo=UTC), "daily-cap")
    assert report_of(full, parse_scheduling("tcpa"))["totals"]["dailyCap"] == 3
    due = outlook({EAST: 3}, NOON_UTC + timedelta(hours=2))
    assert due.next_round(None) == (due.now, "due")
    assert due.deadline == datetime(2026, 11, 21, 1, 50, tzinfo=UTC).timestamp()
    gone = outlook({WEST: 2}, NOON_UTC, expire_at=NOON_UTC)
    assert gone.next_round(None) is None
    assert report_of(gone, parse_scheduling("tcpa"))["totals"]["expired"] == 2
    ends = outlook({WEST: 2}, NOON_UTC, expire_at=NOON_UTC + timedelta(hours=1))
    assert ends.next_round(None) == (NOON_UTC + timedelta(hours=1), "expire-at")


class ChunkOf:
    """A chunk as ``holds`` asks of it: its number, and its recipients' keys."""

    def __init__(self, number: int, *keys: WindowKey) -> None:
        self.number, self.keys = number, keys


class KeysOf:
    def of_chunk(self, chunk: ChunkOf) -> tuple[WindowKey, ...]:
        return chunk.keys


def test_a_held_chunk_s_note_says_what_holds_it_not_a_stop() -> None:
    """A chunk a round holds is told why: the day's cap (a caught chunk with no room, or
    the day full), its recipients' window closed, --at not reached, carriers' halt; one
    whose windows are open and that the cap admits goes (None)."""
    def why(look: Outlook, chunk: ChunkOf) -> str | None:
        return holds(cast(Any, KeysOf()), look)(cast(Any, chunk))

    afternoon = NOON_UTC + timedelta(hours=2)  # 09:00 Eastern, 06:00 Pacific
    open_east = outlook({EAST: 3, WEST: 2}, afternoon)
    assert why(open_east, ChunkOf(1, EAST)) is None
    assert (why(open_east, ChunkOf(2, EAST, WEST)) or "").startswith(
        "held: its recipients' window is closed now")
    no_room = replace(open_east, share=RoundCap(0, frozenset({1})))
    assert why(no_room, ChunkOf(1, EAST)) == CAP_HOLD
    assert why(no_room, ChunkOf(2, EAST)) is None
    full = outlook({EAST: 3}, afternoon, cap=4, sent=4)
    assert why(full, ChunkOf(1, EAST)) == CAP_HOLD
    before_at = replace(open_east, decision="wait")
    assert (why(before_at, ChunkOf(1, EAST)) or "").startswith("held: --at")
    for look in (open_east, no_room, full, before_at):
        for chunk in (ChunkOf(1, EAST), ChunkOf(2, WEST)):
            assert "stopped" not in (why(look, chunk) or "")


def test_each_key_left_gets_its_own_fate_and_the_report_counts_them_by_rule() -> None:
    """With the day's cap full, the recipients whose window is open are daily-cap, those
    whose window opens later are deferred (quiet hours): one fate per key, not per round."""
    look = outlook({EAST: 3, WEST: 2}, NOON_UTC + timedelta(hours=2), cap=4, sent=4)
    report = report_of(look, parse_scheduling("tcpa", daily_cap=4))
    assert report["totals"] == {"deferred": 2, "expired": 0, "dailyCap": 3, "noWindow": 0}
    assert report["byRule"] == {"quiet-hours": 2, "daily-cap": 3, "carrier-cap": 0, "at": 0,
                                "expire-at": 0, "due": 0, "no-window": 0}
    assert report["byZone"] == {"America/New_York": 3, "America/Los_Angeles": 2}


def test_carrier_cap_failures_above_the_threshold_end_the_day() -> None:
    """The day's batches showing SMS-CAR-450/451/452 on more than 0.5 % of what they
    processed halt the sending until 00:00 Pacific: the next round waits for it, and what is
    left counts under the daily cap."""
    now = datetime(2026, 11, 20, 18, tzinfo=UTC)
    earlier = datetime(2026, 11, 20, 17, tzinfo=UTC)
    chunk = {"messages": 1000, "processedCount": 1000,
             "errorCodeCounts": {"SMS-CAR-450": 4, "SMS-CAR-451": 2, "SMS-UP-410": 50}}
    halt = carrier_halt([(earlier, chunk)], now)
    assert halt is not None
    assert halt.until == datetime(2026, 11, 21, 8, tzinfo=UTC)
    assert "SMS-CAR-450/451/452" in halt.reason
    assert carrier_halt([(earlier, {**chunk, "errorCodeCounts": {"SMS-CAR-450": 5}})],
                        now) is None  # 0.5 % exactly: not above
    yesterday = datetime(2026, 11, 20, 7, tzinfo=UTC)  # Nov 19 in Los Angeles
    assert carrier_halt([(yesterday, chunk)], now) is None
    look = replace(outlook({EAST: 3}, now), halt=halt)
    assert not look.open_keys
    assert look.next_round(None) == (halt.until, "carrier-cap")
    assert report_of(look, parse_scheduling("tcpa"))["totals"]["dailyCap"] == 3


def test_daily_cap_none_turns_the_cap_off_and_other_words_are_refused() -> None:
    """--daily-cap none (any case) is no cap, not even the registration tier's; another word
    is refused naming the flag and the fix."""
    from engine.cli.scheduleflags import _cap

    assert parse_scheduling("tcpa", daily_cap="None").cap is None
    assert _cap("none") == "none"
    assert _cap("6,000") == 6000
    with pytest.raises(UsageError, match="--daily-cap none"):
        parse_scheduling("tcpa", daily_cap="lots")
