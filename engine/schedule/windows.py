"""The open windows of a recipient, in UTC, over a horizon from an instant.

A recipient's window is their quiet-hours window (engine/schedule/rules.py) in each of their
zones, kept only where all of them are open (a number that spans two zones is texted only in
the hours open in both). Every local time goes through zoneinfo, so DST changes land where
they do in each zone, and zones that never shift (America/Phoenix, Pacific/Honolulu) never
do. The closing margin keeps the last POST of a window ``margin`` before it closes, for the
processing time of a batch.

>>> from datetime import datetime, UTC
>>> from engine.schedule.rules import parse_quiet_hours
>>> key = WindowKey(("America/New_York",), "")
>>> open_windows(key, parse_quiet_hours("tcpa"), datetime(2026, 12, 5, 10, tzinfo=UTC))[0]
... # doctest: +ELLIPSIS
Opening(opens=datetime.datetime(2026, 12, 5, 13, 0, tzinfo=datetime.timezone.utc), ...)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.errors import ConfigError
from engine.schedule.placement import Placement
from engine.schedule.rules import NO_STATE, QuietHours, rules_for

DEFAULT_HORIZON = timedelta(days=8)
DEFAULT_MARGIN = timedelta(minutes=10)
# A send opens each window this long after the rules' opening: the server's clock is known
# from its Date header to the second only, and a gateway's may differ from the backend's
SEND_LEAD = timedelta(seconds=60)
Span = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True, order=True)
class WindowKey:
    """What a recipient's windows depend on, and nothing more: their zones (sorted, each
    once) and the rules key of their state (``rules_for``). Recipients with the same key
    have the same windows, so a run keeps counts per key, never per recipient."""

    zones: tuple[str, ...]
    rules: str

    def as_json(self) -> dict[str, Any]:
        return {"zones": list(self.zones), "rules": self.rules}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WindowKey:
        return cls(tuple(data["zones"]), str(data["rules"]))


def window_key(placement: Placement, policy: QuietHours) -> WindowKey:
    """The key of a recipient under a policy (under ``off`` everyone shares one key)."""
    if not policy.quiet:
        return WindowKey((), NO_STATE)
    if not placement.zones:
        raise ValueError("a Placement needs at least one zone (an unknown number gets every "
                         "zone of its country from engine/schedule/zones.py)")
    return WindowKey(tuple(sorted(set(placement.zones))), rules_for(placement.state, policy))


@dataclass(frozen=True, slots=True, order=True)
class Opening:
    """One open window, in UTC: ``opens`` is the first instant a chunk may be POSTed,
    ``deadline`` the instant from which none may (``closes`` less the margin, or the
    ``--expire-at`` time if sooner), ``closes`` the rules' own closing."""

    opens: datetime
    deadline: datetime
    closes: datetime

    def allows(self, instant: datetime) -> bool:
        """True when a chunk may be POSTed at ``instant``."""
        return self.opens <= instant < self.deadline

    def as_json(self) -> dict[str, Any]:
        return {"opens": stamp(self.opens), "deadline": stamp(self.deadline),
                "closes": stamp(self.closes)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Opening:
        return cls(*(as_utc(datetime.fromisoformat(data[k]), k)
                     for k in ("opens", "deadline", "closes")))


def stamp(instant: datetime) -> str:
    """An instant as ISO 8601 in UTC with a Z, for the journal, the report and the plan."""
    return as_utc(instant).isoformat().replace("+00:00", "Z")


def as_utc(instant: datetime, what: str = "instant") -> datetime:
    """An aware datetime in UTC; a naive one is a bug in the caller (no zone, no meaning)."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} {instant.isoformat()} has no time zone: pass an aware "
                         "datetime (e.g. datetime.now(UTC))")
    return instant.astimezone(UTC)


def zone_info(name: str) -> ZoneInfo:
    """The IANA zone ``name``; a ConfigError naming it when the tz database lacks it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError("time zone", name, "is not an IANA time zone name",
                          "Use names such as America/New_York or America/Phoenix (install "
                          "the tzdata package where the system has no zone database).") from exc


def local_instant(day: date, minute: int, zone: ZoneInfo, latest: bool) -> datetime:
    """A local wall-clock time as UTC. A time the clocks skip or repeat has two readings;
    ``latest`` picks the later one (for an opening), otherwise the earlier (for a closing),
    so a window is never widened by a DST change."""
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    readings = [wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)]
    return max(readings) if latest else min(readings)


def zone_spans(zone_name: str, rules: str, policy: QuietHours,
               start: datetime, end: datetime) -> list[Span]:
    """The policy's windows in one zone, in UTC, for every local day touching [start, end]."""
    zone = zone_info(zone_name)
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    spans: list[Span] = []
    while day <= last:
        hours = policy.hours(rules, day)
        if hours is not None:
            span = (local_instant(day, hours[0], zone, True),
                    local_instant(day, hours[1], zone, False))
            if spans and span[0] <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], span[1]))
            elif span[0] < span[1]:
                spans.append(span)
        day += timedelta(days=1)
    return spans


def intersect(a: Sequence[Span], b: Sequence[Span]) -> list[Span]:
    """The times inside a span of both sorted, disjoint lists."""
    out: list[Span] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return out


def open_windows(where: Placement | WindowKey, policy: QuietHours, start: datetime, *,
                 horizon: timedelta = DEFAULT_HORIZON, margin: timedelta = DEFAULT_MARGIN,
                 until: datetime | None = None, lead: timedelta = timedelta(0)
                 ) -> tuple[Opening, ...]:
    """Every opening of a recipient (or a key) that begins before ``start + horizon``, in
    order; the one open at ``start`` opens at ``start``. ``until`` (``--expire-at``) ends
    every opening there; ``lead`` opens each window that much after the rules' opening (a
    send's: the server's clock is known to the second, so a message never lands before
    8:00). Under ``off`` the one opening is the whole horizon."""
    start = as_utc(start, "start")
    if horizon <= timedelta(0) or margin < timedelta(0):
        raise ValueError(f"horizon ({horizon}) must be positive and margin ({margin}) not "
                         "negative")
    end = start + horizon
    limit = end if until is None else min(end, as_utc(until, "until"))
    if not policy.quiet:
        return (Opening(start, limit, end),) if start < limit else ()
    key = where if isinstance(where, WindowKey) else window_key(where, policy)
    spans: list[Span] | None = None
    for zone in key.zones:
        mine = zone_spans(zone, key.rules, policy, start, end)
        spans = mine if spans is None else intersect(spans, mine)
    return tuple(_openings(spans or [], start, end, margin, until, lead))


def _openings(spans: Iterable[Span], start: datetime, end: datetime, margin: timedelta,
              until: datetime | None, lead: timedelta = timedelta(0)) -> Iterable[Opening]:
    for opens, closes in spans:
        deadline = closes - margin if until is None else min(closes - margin, as_utc(until))
        opens = max(opens + lead, start)
        if opens < deadline and opens < end:
            yield Opening(opens, deadline, closes)
