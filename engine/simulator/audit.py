"""What the simulated account did against the clock rules (issue 22): each processed message's
instant and its recipient's local time, and the audit of a run under a quiet-hours policy:
every message processed outside its recipient's window, every recipient processed more than
once, and how many were processed per cap day (00:00 America/Los_Angeles).

Nothing is stored for it: a message's processing instant follows from its batch (its start,
after the sender's batches before it, + (i + 1) / rate, the instant its status leaves Queued)
and its place from its number, found as the engine finds it (engine/schedule/zones.py:
libphonenumber's zones by exchange, else the area-code table, else every zone of the fifty
states). The verdict is the plain definition,
independent of the engine's window arithmetic (engine/schedule/windows.py): the recipient's
wall clock in each of its zones, read with zoneinfo, is inside that local day's window of the
policy (engine/schedule/rules.py). Wall clocks turn over on whole minutes in every North
American zone, so a verdict holds for a whole UTC minute and is computed once per minute.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from engine.reading.phone import Problem
from engine.schedule.caps import CAP_ZONE
from engine.schedule.placement import Placement
from engine.schedule.rules import QuietHours, show
from engine.schedule.windows import WindowKey, window_key
from engine.schedule.zones import Placer, placer
from engine.simulator.store import Batch, Store

DEFAULT_LIMIT = 100  # offenders listed by name; every one is counted
_BUCKET = 2_000_000  # recipients sorted at once when looking for repeats (flat memory)


@cache
def shared_placer() -> Placer:
    """One Placer for the simulator's audits (libphonenumber's when installed), as the engine's
    run makes one: its caches hold a Placement per area code or exchange."""
    return placer()


@dataclass(frozen=True, slots=True)
class Stamp:
    """A processed message: when (simulated epoch seconds) and the recipient's local time in
    each of its zones."""

    processed: float
    placement: Placement
    local: tuple[datetime, ...]

    def as_json(self) -> dict[str, Any]:
        return {"processedAt": iso(self.processed), "zones": list(self.placement.zones),
                "zoneSource": self.placement.source,
                "local": [t.isoformat() for t in self.local]}


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def place(number: str, where: Placer | None = None) -> Placement:
    """The recipient's place as the engine finds it from the number alone."""
    placed = (where or shared_placer())(number)
    assert not isinstance(placed, Problem)  # only a --tz-column cell can be a Problem
    return placed


def stamp(batch: Batch, i: int, where: Placer | None = None) -> Stamp:
    """Message ``i`` of ``batch``: its processing instant and its recipient's local times."""
    t = batch.processed_at(i)
    placement = place(batch.to(i), where)
    return Stamp(t, placement, tuple(datetime.fromtimestamp(t, ZoneInfo(z))
                                     for z in placement.zones))


@dataclass(frozen=True, slots=True)
class Outside:
    """A message processed outside its recipient's window."""

    to: str
    batch_id: str
    index: int  # 1-based, in its request
    stamp: Stamp
    windows: tuple[str, ...]  # the policy's window that local day, per zone ("closed")

    def as_json(self) -> dict[str, Any]:
        return {"to": self.to, "batchId": self.batch_id, "index": self.index,
                **self.stamp.as_json(), "windows": list(self.windows)}


@dataclass(slots=True)
class Audit:
    """The audit of every message processed by ``now`` under ``policy``."""

    policy: str
    now: float
    processed: int = 0
    queued: int = 0  # accepted, not processed yet
    outside_count: int = 0
    outside: list[Outside] = field(default_factory=list)
    repeated_count: int = 0  # recipients processed more than once
    repeated: list[tuple[str, int]] = field(default_factory=list)
    per_cap_day: dict[str, int] = field(default_factory=dict)
    daily_cap: int | None = None

    @property
    def over_cap(self) -> dict[str, int]:
        """The cap days that carried more than the cap."""
        cap = self.daily_cap
        return {} if cap is None else {d: n for d, n in self.per_cap_day.items() if n > cap}

    @property
    def clean(self) -> bool:
        """Nobody texted outside their window, nobody twice, no day over the cap."""
        return not (self.outside_count or self.repeated_count or self.over_cap)

    def as_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy, "now": iso(self.now), "clean": self.clean,
            "processed": self.processed, "queued": self.queued,
            "outsideWindow": self.outside_count,
            "outside": [o.as_json() for o in self.outside],
            "repeatedRecipients": self.repeated_count,
            "repeated": [{"to": to, "times": n} for to, n in self.repeated],
            "perCapDay": dict(sorted(self.per_cap_day.items())),
            "dailyCap": self.daily_cap, "overCap": self.over_cap,
        }


class _Judge:
    """Verdicts and cap days, computed once per (window key, UTC minute)."""

    def __init__(self, policy: QuietHours, where: Placer) -> None:
        self.policy = policy
        self.where = where
        self._inside: dict[tuple[WindowKey, int], bool] = {}
        self._days: dict[int, str] = {}
        self._zones: dict[str, ZoneInfo] = {}

    def key(self, number: str) -> WindowKey:
        return window_key(place(number, self.where), self.policy)

    def inside(self, key: WindowKey, t: float) -> bool:
        minute = int(t // 60)
        verdict = self._inside.get((key, minute))
        if verdict is None:
            verdict = self._inside[(key, minute)] = all(
                self._inside_zone(key.rules, z, minute * 60.0) for z in key.zones)
        return verdict

    def _inside_zone(self, rules: str, zone: str, t: float) -> bool:
        local = datetime.fromtimestamp(t, self.zone(zone))
        hours = self.policy.hours(rules, local.date())
        minute = local.hour * 60 + local.minute
        return hours is not None and hours[0] <= minute < hours[1]

    def windows(self, key: WindowKey, t: float) -> tuple[str, ...]:
        return tuple(show(self.policy.hours(key.rules,
                                            datetime.fromtimestamp(t, self.zone(z)).date()))
                     for z in key.zones)

    def cap_day(self, t: float) -> str:
        minute = int(t // 60)
        day = self._days.get(minute)
        if day is None:
            day = self._days[minute] = datetime.fromtimestamp(t, CAP_ZONE).date().isoformat()
        return day

    def zone(self, name: str) -> ZoneInfo:
        found = self._zones.get(name)
        if found is None:
            found = self._zones[name] = ZoneInfo(name)
        return found


def audit(store: Store, now: float, policy: QuietHours, *, daily_cap: int | None = None,
          limit: int = DEFAULT_LIMIT, where: Placer | None = None) -> Audit:
    """Every message processed by ``now`` judged under ``policy``; ``limit`` offenders of each
    kind listed (all counted)."""
    batches = list(store.batches)  # a snapshot: the server may add batches meanwhile
    judge = _Judge(policy, where or shared_placer())
    result = Audit(str(policy), now, daily_cap=daily_cap)
    days: Counter[str] = Counter()
    for batch in batches:
        processed = _processed(batch, now)
        result.processed += processed
        result.queued += batch.size - processed
        for i in range(processed):
            t = batch.processed_at(i)
            days[judge.cap_day(t)] += 1
            if not policy.quiet:
                continue
            number = batch.to(i)
            key = judge.key(number)
            if judge.inside(key, t):
                continue
            result.outside_count += 1
            if len(result.outside) < limit:
                result.outside.append(Outside(number, batch.id, batch.index_in_request(i),
                                              stamp(batch, i, judge.where),
                                              judge.windows(key, t)))
    result.per_cap_day = dict(days)
    for repeated, times in repeats(batches, now):
        result.repeated_count += 1
        if len(result.repeated) < limit:
            result.repeated.append((f"+{repeated}", times))
    return result


def repeats(batches: Sequence[Batch], now: float, bucket: int = _BUCKET
            ) -> Iterator[tuple[int, int]]:
    """(number, times) of every recipient processed more than once. The numbers are sorted a
    share at a time (by residue), so memory stays about ``bucket`` numbers whatever the store
    holds."""
    total = sum(_processed(b, now) for b in batches)
    shares = max(1, -(-total // bucket))
    for share in range(shares):
        numbers = sorted(n for b in batches for n in b.numbers[:_processed(b, now)]
                         if n % shares == share)
        run = 1
        for k in range(1, len(numbers) + 1):
            if k < len(numbers) and numbers[k] == numbers[k - 1]:
                run += 1
                continue
            if run > 1:
                yield numbers[k - 1], run
            run = 1


def _processed(batch: Batch, now: float) -> int:
    """Messages processed by ``now`` (none for a batch stamped later: the clock's skew)."""
    return max(0, batch.processed(now))
