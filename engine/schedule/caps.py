"""Daily caps: a day starts at 00:00 America/Los_Angeles (when T-Mobile's brand caps reset),
the day's cap is filled exactly and never passed, and a day with carrier-cap failures above a
threshold is over for the sender.

Sources: RingCentral's SMS requirements (``LowVolume`` = at most 6,000 messages a day across
all numbers); the v2 error codes SMS-CAR-450 (T-Mobile daily brand limit), 451 (AT&T daily
campaign limit), 452 (allotted limit); T-Mobile's caps reset at midnight Pacific and what goes
over is charged and failed (docs/quiet-hours.md#daily-caps).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from engine.errors import ConfigError
from engine.schedule.windows import as_utc, local_instant

CAP_ZONE = ZoneInfo("America/Los_Angeles")
CARRIER_CAP_CODES = frozenset({"SMS-CAR-450", "SMS-CAR-451", "SMS-CAR-452"})
DEFAULT_HALT_THRESHOLD = 0.005
# Messages a day a registration tier allows: RingCentral documents LowVolume (about 6,000 a
# day, across all numbers); other tiers set none. The one source of that fact (the pre-flight
# and the --daily-cap default read it).
TIER_CAPS = {"LowVolume": 6000}
NO_CAP = "none"  # --daily-cap none: no cap, not even the registration tier's


def default_daily_cap(registration_tier: str | None) -> int | None:
    """The cap the registration tier implies (6,000 for ``LowVolume``), None when the tier
    sets none or is unknown."""
    return TIER_CAPS.get(registration_tier or "")


def check_daily_cap(cap: int) -> int:
    """``--daily-cap`` validated: a positive whole number."""
    if cap < 1:
        raise ConfigError("--daily-cap", "cap", f"{cap} is not a positive number of messages",
                          "Give the most messages a day may carry, e.g. --daily-cap 6000, or "
                          "--daily-cap none for no cap.")
    return cap


def day_start(instant: datetime) -> datetime:
    """00:00 America/Los_Angeles of the cap day ``instant`` is in, in UTC."""
    day = as_utc(instant).astimezone(CAP_ZONE).date()
    return local_instant(day, 0, CAP_ZONE, latest=False)


def next_day(instant: datetime) -> datetime:
    """When the next cap day starts, in UTC (23 or 25 hours later across a DST change)."""
    day = as_utc(instant).astimezone(CAP_ZONE).date() + timedelta(days=1)
    return local_instant(day, 0, CAP_ZONE, latest=False)


@dataclass(frozen=True, slots=True)
class CapDay:
    """The cap day of an instant: its bounds in UTC, what it has carried, and how many more
    may go now (None: no cap)."""

    starts: datetime
    ends: datetime
    sent: int
    allowed: int | None

    def cut(self, size: int) -> int:
        """How many of a batch of ``size`` may go now: all, or exactly what fills the cap."""
        return size if self.allowed is None else min(size, self.allowed)

    @property
    def full(self) -> bool:
        return self.allowed == 0


def cap_day(cap: int | None, ledger: Iterable[tuple[datetime, int]], instant: datetime) -> CapDay:
    """The day of ``instant`` given the run's ledger of (instant, messages sent). Entries of
    other days do not count; the ledger is read once, so a journal can stream it."""
    starts, ends = day_start(instant), next_day(instant)
    sent = sum(n for when, n in ledger if starts <= as_utc(when, "ledger instant") < ends)
    allowed = None if cap is None else max(0, cap - sent)
    return CapDay(starts, ends, sent, allowed)


@dataclass(frozen=True, slots=True)
class Halt:
    """Stop sending until ``until`` (the next cap day), and why."""

    until: datetime
    reason: str


def carrier_cap_halt(processed: int, failures: int, instant: datetime,
                     threshold: float = DEFAULT_HALT_THRESHOLD) -> Halt | None:
    """A Halt when the day's carrier-cap failures (SMS-CAR-450/451/452) are above
    ``threshold`` of the messages it processed: what goes over a carrier's cap is charged
    and failed, so the rest of the day would be paid for and lost."""
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold {threshold} must be a fraction in [0, 1)")
    if failures <= 0 or failures <= threshold * processed:
        return None
    until = next_day(instant)
    share = failures / processed if processed else 1.0
    shown = until.astimezone(CAP_ZONE)
    return Halt(until, f"{failures:,} of the {processed:,} messages processed today "
                f"({share:.2%}) failed on a carrier's daily cap (SMS-CAR-450/451/452), above "
                f"the {threshold:.2%} threshold: sending stops until the next day starts at "
                f"{shown:%Y-%m-%d %H:%M %Z} ({until:%Y-%m-%dT%H:%MZ}), since what goes over a "
                "cap is charged and fails.")


def cap_day_label(instant: datetime) -> str:
    """The cap day as its Pacific date, e.g. ``2026-12-05``, for reports."""
    return f"{as_utc(instant).astimezone(CAP_ZONE).date():%Y-%m-%d}"


