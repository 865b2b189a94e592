"""``--at`` (start the first wave then) and ``--expire-at`` (what is left then is expired):
parsing and the decisions they imply.

Times are ISO 8601 with a zone: an offset (``2026-12-05T08:00-05:00``, ``...Z``) or an IANA
zone in brackets (``2026-12-05T08:00[America/New_York]``, RFC 9557), which follows DST. A
time without a zone is refused: the machine's zone is not the campaign's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from engine.errors import ConfigError
from engine.schedule.windows import as_utc, zone_info

_BRACKETED = re.compile(r"(?P<stamp>[^\[\]]+)\[(?P<zone>[^\[\]]+)\]")
EXAMPLES = "2026-12-05T08:00-05:00, 2026-12-05T13:00Z or 2026-12-05T08:00[America/New_York]"


def parse_instant(text: str, flag: str) -> datetime:
    """An ``--at``/``--expire-at`` value as an aware UTC datetime; a ConfigError naming the
    value and the fix when it is not a date and time with a zone."""
    match = _BRACKETED.fullmatch(text.strip())
    stamp = match["stamp"] if match else text.strip()
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        raise ConfigError(flag, "time", f"{text!r} is not an ISO 8601 date and time",
                          f"Write it like {EXAMPLES}.") from None
    if "T" not in stamp.upper() and " " not in stamp:
        raise ConfigError(flag, "time", f"{text!r} has a date but no time of day",
                          f"Give the time and its zone too, e.g. {EXAMPLES}.")
    if match:
        return _in_zone(moment, match["zone"], text, flag)
    if moment.tzinfo is None:
        raise ConfigError(flag, "time", f"{text!r} names no time zone",
                          "Add an offset or a zone, whose time it is, e.g. "
                          f"{stamp}-05:00, {stamp}Z or {stamp}[America/New_York].")
    return moment.astimezone(UTC)


def _in_zone(moment: datetime, zone_name: str, text: str, flag: str) -> datetime:
    try:
        zone = zone_info(zone_name)
    except ConfigError:
        raise ConfigError(flag, "time", f"{text!r} names {zone_name!r}, which is not an IANA "
                          "time zone", f"Use a zone such as America/New_York: {EXAMPLES}."
                          ) from None
    if moment.tzinfo is not None:
        if moment.utcoffset() != moment.replace(tzinfo=zone).utcoffset():
            raise ConfigError(flag, "time", f"{text!r} has an offset that {zone_name} does not "
                              "have at that time", "Give the offset or the zone, not both.")
        return moment.astimezone(UTC)
    readings = {moment.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1)}
    local = {r.astimezone(zone).replace(tzinfo=None) for r in readings}
    if len(readings) > 1 and local != {moment}:
        raise ConfigError(flag, "time", f"{text!r} does not exist: the clocks in {zone_name} "
                          "skip that hour that day", "Give a time outside the skipped hour.")
    if len(readings) > 1:
        raise ConfigError(flag, "time", f"{text!r} happens twice: the clocks in {zone_name} "
                          "repeat that hour that day",
                          "Give an offset instead to say which, e.g. -04:00 or -05:00.")
    return readings.pop()


def check_timing(at: datetime | None, expire_at: datetime | None) -> None:
    """Refuse an ``--expire-at`` that is not after ``--at``: nothing could ever be sent."""
    if at is not None and expire_at is not None and as_utc(expire_at) <= as_utc(at):
        raise ConfigError("--expire-at", "time", f"{expire_at:%Y-%m-%dT%H:%MZ} is not after "
                          f"--at {at:%Y-%m-%dT%H:%MZ}",
                          "Give an expiry later than the start, or leave one of them out.")


Decision = Literal["wait", "send", "expired"]


@dataclass(frozen=True, slots=True)
class Timing:
    """A run's ``--at`` and ``--expire-at`` (either may be None)."""

    at: datetime | None = None
    expire_at: datetime | None = None  # checked by the parsers (check_timing): a resume
    #                                     may bring it before --at, to end the run unsent

    def decide(self, instant: datetime) -> Decision:
        """``wait`` before ``--at``, ``expired`` from ``--expire-at`` on (whatever is left is
        reported as ``expired``, not retryable without a new run), ``send`` between."""
        instant = as_utc(instant)
        if self.expire_at is not None and instant >= as_utc(self.expire_at):
            return "expired"
        if self.at is not None and instant < as_utc(self.at):
            return "wait"
        return "send"

    def start(self, instant: datetime) -> datetime:
        """Where a schedule begins: the later of ``instant`` and ``--at``."""
        instant = as_utc(instant)
        return instant if self.at is None else max(instant, as_utc(self.at))
