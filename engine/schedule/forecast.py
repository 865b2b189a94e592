"""What a scheduled send would do with a list, for ``a2p plan`` (issue 22): the waves, the
days a daily cap needs, what no opening reaches before ``--expire-at``, the counts by zone,
by state rule and by where the zones came from, and, with quiet hours off, who would be
texted outside 8:00-21:00 local time if the list went out now.

Everything works on the counts of each Placement (a few hundred at most, whatever the list's
size: engine/schedule/zones.py ``Placer.tally``), and the instant "now" comes in as a
parameter: the CLI passes the real clock, tests a fixed instant.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import compress
from typing import Any

from engine.reading import Block
from engine.schedule import statetable
from engine.schedule.caps import CAP_ZONE, cap_day_label, day_start, next_day
from engine.schedule.placement import Placement, ZoneSource
from engine.schedule.rules import ANY_STATE, NO_STATE, QuietHours, parse_quiet_hours, rules_for
from engine.schedule.timing import Timing
from engine.schedule.waves import Schedule, schedule_waves, status_at
from engine.schedule.windows import (
    DEFAULT_HORIZON,
    DEFAULT_MARGIN,
    Opening,
    WindowKey,
    as_utc,
    stamp,
    window_key,
)
from engine.schedule.zones import AREA, EXCHANGE, FALLBACK_ZONES, Placer

TCPA = parse_quiet_hours("tcpa")
STRICT = parse_quiet_hours("strict")
SOURCES: tuple[ZoneSource, ...] = ("column", "libphonenumber", "area-code", "fallback")
UNKNOWN = "unknown (every US zone)"
MAX_HORIZON = timedelta(days=400)  # a cap that needs longer is a list for another tool


def zones_label(zones: Iterable[str]) -> str:
    """A Placement's zones as one label: ``America/Chicago`` or, for a number spanning
    zones (texted only in the hours open in all), ``America/Chicago+America/New_York``;
    ``unknown (every US zone)`` for a number with no known place (the fallback)."""
    unique = sorted(set(zones))
    return UNKNOWN if unique == sorted(FALLBACK_ZONES) else "+".join(unique)


def rule_label(rules: str) -> str:
    """A rules key for people: the state, ``*`` as every row, ``""`` as TCPA alone."""
    return {NO_STATE: "none", ANY_STATE: "every-state"}.get(rules, rules)


@dataclass(frozen=True, slots=True)
class CapDayUse:
    """One cap day (00:00 America/Los_Angeles) and how many messages the plan puts in it."""

    starts: datetime
    count: int

    def as_json(self) -> dict[str, Any]:
        return {"day": cap_day_label(self.starts), "starts": stamp(self.starts),
                "count": self.count}


@dataclass(frozen=True, slots=True)
class Outside:
    """Recipients whose 8:00-21:00 local window is closed at ``instant``, by zones label."""

    instant: datetime
    by_zone: dict[str, int]

    @property
    def count(self) -> int:
        return sum(self.by_zone.values())

    def as_json(self) -> dict[str, Any]:
        return {"at": stamp(self.instant), "count": self.count, "byZone": self.by_zone}

    def warning(self) -> str:
        """The plan's warning under ``--quiet-hours off``, naming the zones and the fix."""
        zones = sorted(self.by_zone.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = ", ".join(f"{n:,} in {zone}" for zone, n in zones[:5])
        more = f" and {len(zones) - 5} more zone(s)" if len(zones) > 5 else ""
        return (f"{self.count:,} recipient(s) would be texted outside 08:00-21:00 their local "
                f"time if the list were sent at {stamp(self.instant)} ({shown}{more}): "
                "without --quiet-hours, `a2p send` sends everyone at once. Pass --quiet-hours "
                "tcpa (08:00-21:00 local) or --quiet-hours strict (and the state rules) to "
                "send each recipient inside their window.")


@dataclass(frozen=True, slots=True)
class Forecast:
    """A scheduled send's plan: the waves (``Schedule``), the cap days it fills, how many
    no opening reaches (``not_sent``, and why), and the counts by zone, state rule (as
    strict reads the state table) and zone source."""

    policy: QuietHours
    now: datetime
    start: datetime
    timing: Timing
    margin: timedelta
    cap: int | None
    horizon: timedelta
    schedule: Schedule
    days: tuple[CapDayUse, ...]
    not_sent: int
    placements: Mapping[Placement, int] = field(default_factory=dict)
    outside: Outside | None = None

    @property
    def count(self) -> int:
        return sum(self.placements.values())

    @property
    def not_sent_reason(self) -> str | None:
        """Why ``not_sent`` recipients would not be sent: ``expire-at`` (no opening, or no
        room under the cap, before it) or ``horizon`` (none within ``horizon``)."""
        if not self.not_sent:
            return None
        return "expire-at" if self.timing.expire_at is not None else "horizon"

    def by_zone(self) -> dict[str, int]:
        return _ranked(_count(self.placements, lambda p: zones_label(p.zones)))

    def by_rule(self) -> dict[str, int]:
        """By the state-table row that applies (under strict and own windows; tcpa and off
        read no state rules, but the counts say what strict would change)."""
        return _ranked(_count(self.placements,
                              lambda p: rule_label(rules_for(p.state, STRICT))))

    def by_source(self) -> dict[str, int]:
        counts = _count(self.placements, lambda p: p.source)
        return {source: counts.get(source, 0) for source in SOURCES}

    def as_json(self) -> dict[str, Any]:
        timing = self.timing
        return {
            "policy": str(self.policy), "rulesVersion": statetable.VERSION,
            "marginMinutes": self.margin / timedelta(minutes=1),
            "now": stamp(self.now), "start": stamp(self.start),
            "at": None if timing.at is None else stamp(timing.at),
            "expireAt": None if timing.expire_at is None else stamp(timing.expire_at),
            "dailyCap": self.cap, "capDayZone": CAP_ZONE.key,
            "horizonDays": self.horizon / timedelta(days=1),
            "recipients": self.count, **self.schedule.as_json(),
            "capDays": [d.as_json() for d in self.days],
            "notSent": {"count": self.not_sent, "reason": self.not_sent_reason},
            "byZone": self.by_zone(), "byRule": self.by_rule(),
            "bySource": self.by_source(),
            "outsideTcpaNow": None if self.outside is None else self.outside.as_json(),
        }


def _count(placements: Mapping[Placement, int], key: Any) -> Counter[str]:
    counts: Counter[str] = Counter()
    for placement, n in placements.items():
        counts[key(placement)] += n
    return counts


def _ranked(counts: Mapping[str, int]) -> dict[str, int]:
    return dict(sorted(((k, n) for k, n in counts.items() if n), key=lambda kv: (-kv[1], kv[0])))


def keys_of(placements: Mapping[Placement, int], policy: QuietHours) -> Counter[WindowKey]:
    """The counts by window key under ``policy``, from the counts by Placement."""
    counts: Counter[WindowKey] = Counter()
    for placement, n in placements.items():
        if n:
            counts[window_key(placement, policy)] += n
    return counts


def outside_tcpa(placements: Mapping[Placement, int], instant: datetime) -> Outside:
    """Who is outside 8:00-21:00 local at ``instant`` (no margin: the moment itself)."""
    keys = keys_of(placements, TCPA)
    status = status_at(keys, TCPA, instant, margin=timedelta(0))
    shut = {key: n for key, n in keys.items() if not status.is_open(key)}
    by_zone: Counter[str] = Counter()
    for key, n in shut.items():
        by_zone[zones_label(key.zones)] += n
    return Outside(as_utc(instant), _ranked(by_zone))


def cap_days(schedule: Schedule, cap: int | None) -> tuple[tuple[CapDayUse, ...], int]:
    """The messages each cap day carries and how many are left over, when every opening
    sends what it can (the engine fills a day's cap exactly, then waits for the next day).
    Openings are taken in the order they open; a group not finished in one opening goes on
    in its next. A forecast of the counts a day, not of which recipient goes when."""
    remaining = [w.count for w in schedule.waves]
    events: list[tuple[Opening, int]] = sorted(
        ((o, i) for i, w in enumerate(schedule.waves) for o in (w.opening, *w.later)),
        key=lambda e: (e[0].opens, e[0].deadline, e[1]))
    used: dict[datetime, int] = {}
    for opening, i in events:
        moment = opening.opens
        while remaining[i] and moment < opening.deadline:
            day = day_start(moment)
            room = remaining[i] if cap is None else min(remaining[i], cap - used.get(day, 0))
            if room > 0:
                used[day] = used.get(day, 0) + room
                remaining[i] -= room
            if remaining[i]:
                moment = next_day(moment)
    left = sum(remaining) + sum(n for _, n in schedule.unscheduled)
    return tuple(CapDayUse(day, n) for day, n in sorted(used.items())), left


def forecast(placements: Mapping[Placement, int], policy: QuietHours, now: datetime, *,
             timing: Timing | None = None, margin: timedelta = DEFAULT_MARGIN,
             cap: int | None = None) -> Forecast:
    """The plan of a send of recipients counted by Placement, from ``now`` (the CLI's clock,
    a test's fixed instant): waves from the later of now and ``--at``, over eight days or
    as many as the cap needs (plus a week for weekends and holidays), never past
    ``--expire-at``."""
    timing = timing or Timing()
    now = as_utc(now, "now")
    start = timing.start(now)
    total = sum(placements.values())
    horizon = DEFAULT_HORIZON
    if cap is not None and total:
        horizon = min(MAX_HORIZON, max(horizon, timedelta(days=math.ceil(total / cap) + 8)))
    if timing.expire_at is not None:
        left = as_utc(timing.expire_at) - start
        horizon = min(horizon, left) if left > timedelta(0) else timedelta(0)
    keys = keys_of(placements, policy)
    if horizon > timedelta(0):
        schedule = schedule_waves(keys, policy, start, horizon=horizon, margin=margin,
                                  until=timing.expire_at)
    else:  # --expire-at already passed: nothing can be sent
        schedule = Schedule((), tuple(sorted(keys.items())))
    days, left_over = cap_days(schedule, cap)
    outside = outside_tcpa(placements, start) if not policy.quiet else None
    return Forecast(policy, now, start, timing, margin, cap, horizon, schedule, days,
                    left_over, dict(placements), outside)


class PlacementTally:
    """Counts the recipients of each Placement as a run's blocks pass (``tap``): one per run,
    over the valid records. Flat memory: counts by area code (and by exchange in the few
    codes libphonenumber splits), bounded by the numbering plan, never per recipient; each
    area code or exchange is placed once, when ``counts`` is asked for. A block costs a few
    counts in C, whatever its numbers (``Placer.tally`` places block by block)."""

    def __init__(self, placer: Placer) -> None:
        self.placer = placer
        self._split = placer.split_heads
        self._areas: Counter[str] = Counter()
        self._exchanges: Counter[str] = Counter()
        self._placed: Counter[Placement] = Counter()  # the column's, and numbers outside +1

    def tap(self, blocks: Iterable[Block]) -> Iterator[Block]:
        for block in blocks:
            self.add(block)
            yield block

    def add(self, block: Block) -> None:
        zones = block.zones
        if zones is None:
            self._numbers(block.tos)
            return
        by_number: list[str] = []
        for number, zone in zip(block.tos, zones, strict=True):
            if zone is None:
                by_number.append(number)
                continue
            placed = self.placer(number, zone)
            if isinstance(placed, Placement):  # the reader refused a bad cell already
                self._placed[placed] += 1
        self._numbers(by_number)

    def _numbers(self, numbers: list[str]) -> None:
        if not numbers:
            return
        if max(map(len, numbers)) != 12 or min(map(len, numbers)) != 12:
            self.placer.tally(numbers, self._placed)  # numbers outside +1: placed now
            return
        areas = Counter(map(AREA, numbers))
        if any(not head.startswith("+1") for head in areas):
            self.placer.tally(numbers, self._placed)
            return
        deep = areas.keys() & self._split
        if deep:
            self._exchanges.update(map(EXCHANGE, compress(
                numbers, map(deep.__contains__, map(AREA, numbers)))))
            for head in deep:
                del areas[head]
        self._areas.update(areas)

    @property
    def counts(self) -> Counter[Placement]:
        """The recipients counted so far, by Placement."""
        counts = Counter(self._placed)
        for head, n in self._areas.items():  # any exchange gives the area code's answer
            counts[self.placer.by_number(head + "5550100")] += n
        for prefix, n in self._exchanges.items():
            counts[self.placer.by_number(prefix + "0000")] += n
        return counts
