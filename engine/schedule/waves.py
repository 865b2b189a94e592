"""Waves: recipients grouped by their windows, so a run sends each group while it is open.

Everything here works on window keys (engine/schedule/windows.py: zones and state rules) and
their counts, never on recipients: a national list has a few dozen keys whatever its size.
``schedule_waves`` is the plan (``a2p plan`` shows it, the journal keeps it); ``status_at``
is the question a running send asks before each POST: which keys are open now, until when,
and when the next one opens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from engine.schedule.rules import QuietHours
from engine.schedule.windows import (
    DEFAULT_HORIZON,
    DEFAULT_MARGIN,
    Opening,
    WindowKey,
    as_utc,
    open_windows,
    zone_info,
)

# status_at looks this far ahead first: almost every key opens within two days, and only the
# first opening matters to it (a long weekend or a holiday then needs the whole horizon).
PROBE = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class LocalWindow:
    """An opening as a recipient's clock shows it, for display."""

    zone: str
    opens: datetime
    closes: datetime

    def __str__(self) -> str:
        end = f"{self.closes:%H:%M}" if self.closes.date() == self.opens.date() else \
            f"{self.closes:%a %Y-%m-%d %H:%M}"
        return f"{self.zone} {self.opens:%a %Y-%m-%d %H:%M}-{end} {self.closes:%Z}"


@dataclass(frozen=True, slots=True)
class Wave:
    """The first opening of a group of keys whose windows are the same over the horizon:
    ``count`` recipients go in it; ``later`` are the group's next openings, for what one
    opening could not send (a daily cap, a stop)."""

    opening: Opening
    keys: tuple[WindowKey, ...]
    count: int
    later: tuple[Opening, ...]

    def local(self) -> tuple[LocalWindow, ...]:
        """The opening in each zone of the wave (from the opening to the rules' closing)."""
        zones = sorted({zone for key in self.keys for zone in key.zones})
        return tuple(LocalWindow(zone, self.opening.opens.astimezone(zone_info(zone)),
                                 self.opening.closes.astimezone(zone_info(zone)))
                     for zone in zones)

    def as_json(self) -> dict[str, Any]:
        return {**self.opening.as_json(), "count": self.count,
                "keys": [k.as_json() for k in self.keys],
                "local": [str(w) for w in self.local()],
                "later": [o.as_json() for o in self.later]}


@dataclass(frozen=True, slots=True)
class Schedule:
    """The waves in the order they open, and the keys with no opening in the horizon (or
    none before ``--expire-at``), with their counts."""

    waves: tuple[Wave, ...]
    unscheduled: tuple[tuple[WindowKey, int], ...]

    @property
    def count(self) -> int:
        return sum(w.count for w in self.waves) + sum(n for _, n in self.unscheduled)

    def as_json(self) -> dict[str, Any]:
        """The schedule as plain JSON (for the journal and ``a2p plan --json``)."""
        return {"waves": [w.as_json() for w in self.waves],
                "unscheduled": [{"key": k.as_json(), "count": n} for k, n in self.unscheduled]}


def schedule_waves(counts: Mapping[WindowKey, int], policy: QuietHours, start: datetime, *,
                   horizon: timedelta = DEFAULT_HORIZON, margin: timedelta = DEFAULT_MARGIN,
                   until: datetime | None = None) -> Schedule:
    """The waves for keys with their recipient counts, from ``start`` (the later of now and
    ``--at``), ordered by opening, then by deadline, then by key.

    >>> from datetime import UTC
    >>> from engine.schedule.rules import parse_quiet_hours
    >>> plan = schedule_waves({WindowKey(("America/Chicago",), ""): 3},
    ...                       parse_quiet_hours("tcpa"), datetime(2026, 12, 5, 10, tzinfo=UTC))
    >>> plan.waves[0].count, str(plan.waves[0].local()[0])
    (3, 'America/Chicago Sat 2026-12-05 08:00-21:00 CST')
    """
    groups: dict[tuple[Opening, ...], list[WindowKey]] = {}
    unscheduled: list[tuple[WindowKey, int]] = []
    for key in sorted(counts):
        openings = open_windows(key, policy, start, horizon=horizon, margin=margin, until=until)
        if openings:
            groups.setdefault(openings, []).append(key)
        else:
            unscheduled.append((key, counts[key]))
    waves = [Wave(openings[0], tuple(keys), sum(counts[k] for k in keys), openings[1:])
             for openings, keys in groups.items()]
    waves.sort(key=lambda w: (w.opening.opens, w.opening.deadline, w.keys))
    return Schedule(tuple(waves), tuple(unscheduled))


@dataclass(frozen=True, slots=True)
class Status:
    """Which keys may be sent at ``instant``: ``open`` with the deadline of their opening,
    ``waiting`` with their next opening, ``closed`` with none left in the horizon."""

    instant: datetime
    open: tuple[tuple[WindowKey, datetime], ...]
    waiting: tuple[tuple[WindowKey, datetime], ...]
    closed: tuple[WindowKey, ...]

    def is_open(self, key: WindowKey) -> bool:
        return any(k == key for k, _ in self.open)

    @property
    def until(self) -> datetime | None:
        """When the first open key's deadline comes (None when nothing is open)."""
        return min((d for _, d in self.open), default=None)

    @property
    def next_opening(self) -> datetime | None:
        """When the next key that is closed now opens (None when none will in the horizon)."""
        return min((o for _, o in self.waiting), default=None)


def status_at(keys: Iterable[WindowKey], policy: QuietHours, instant: datetime, *,
              horizon: timedelta = DEFAULT_HORIZON, margin: timedelta = DEFAULT_MARGIN,
              until: datetime | None = None, lead: timedelta = timedelta(0)) -> Status:
    """Open, waiting and closed keys at ``instant`` (inside the margin counts as closed, and
    the ``lead`` after each opening too). The answer holds until ``Status.until`` or
    ``Status.next_opening``, whichever comes first: a sender asks again then, not before
    every POST."""
    instant = as_utc(instant, "instant")
    opened: list[tuple[WindowKey, datetime]] = []
    waiting: list[tuple[WindowKey, datetime]] = []
    closed: list[WindowKey] = []
    probe = min(horizon, PROBE)
    for key in sorted(set(keys)):
        openings = open_windows(key, policy, instant, horizon=probe, margin=margin, until=until,
                                lead=lead)
        if not openings and probe < horizon:
            openings = open_windows(key, policy, instant, horizon=horizon, margin=margin,
                                    until=until, lead=lead)
        if not openings:
            closed.append(key)
        elif openings[0].allows(instant):
            opened.append((key, openings[0].deadline))
        else:
            waiting.append((key, openings[0].opens))
    return Status(instant, tuple(opened), tuple(waiting), tuple(closed))


def never_open(keys: Iterable[WindowKey], policy: QuietHours, instant: datetime, *,
               horizon: timedelta = DEFAULT_HORIZON, margin: timedelta = DEFAULT_MARGIN
               ) -> frozenset[WindowKey]:
    """The keys with no opening in the horizon, --expire-at aside: the policy's rules repeat
    every week (the horizon is longer), so their window never opens (an own window that
    strict narrows to nothing in a state, a margin as long as the window)."""
    return frozenset(key for key in set(keys)
                     if not open_windows(key, policy, instant, horizon=horizon, margin=margin))
