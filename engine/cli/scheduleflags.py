"""The schedule flags of issue 22 (``--quiet-hours``, ``--tz-column``, ``--daily-cap``,
``--at``, ``--expire-at``, ``--window-margin``), as ``a2p plan`` reads them: the argparse
definitions and their values, checked with the messages engine/schedule gives."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # loaded when a command runs, not for --help
    from engine.schedule.rules import QuietHours
    from engine.schedule.timing import Timing

NO_CAP = "none"  # --daily-cap none (engine/schedule/caps.py NO_CAP, not loaded for --help)


def add_schedule_flags(parser: argparse.ArgumentParser, *, send: bool = False,
                       title: str = "schedule (quiet hours, daily cap, start and expiry; "
                       "README: Quiet hours and schedules)") -> Any:
    """The flags, named as design22.md names them, for plan and send (its group, for the
    send's own). A send's unset flag is None: off on a new run, the journal's on a resume;
    its --window-margin goes on in seconds (``SendOptions.window_margin``)."""
    group = parser.add_argument_group(title)
    group.add_argument("--quiet-hours", default=None if send else "off", metavar="POLICY",
                       help="off (the default: everyone now), tcpa (08:00-21:00 in each "
                       "recipient's zone), strict (tcpa and the state table: FL, OK, MD, WA, "
                       "MS 08:00-20:00, TX, CT, LA, RI...), or your own local window "
                       "HH:MM-HH:MM (combined with strict)")
    group.add_argument("--tz-column", metavar="NAME",
                       help="CSV column or JSON key with each recipient's IANA time zone "
                       "(e.g. America/Chicago); a blank cell places the recipient by number, "
                       "a cell naming no zone is a local rejection LCL-BAD-TIMEZONE")
    group.add_argument("--daily-cap", type=_cap, metavar="N",
                       help="at most N messages a day, the day starting 00:00 "
                       "America/Los_Angeles; the last batch of a day is cut at the cap, the "
                       "rest go the next day (e.g. 6000 for a LowVolume registration)" +
                       ("; 'none' for no cap. Default: a scheduled send takes the cap of "
                        "the sender's registration tier when the pre-flight reads one (6000 "
                        "for LowVolume), else none" if send else "; 'none' for no cap"))
    group.add_argument("--at", metavar="TIME",
                       help="start the first wave then: ISO 8601 with a zone, e.g. "
                       "2026-12-07T09:00-05:00 or 2026-12-07T09:00[America/New_York]")
    group.add_argument("--expire-at", metavar="TIME",
                       help="leave whatever is not sent by then unsent (expired), same form"
                       + ("; with --resume it may be brought forward (now, or an earlier "
                          "time) to end a scheduled run" if send else ""))
    group.add_argument("--window-margin", type=_seconds if send else _margin,
                       default=None if send else 10.0, metavar="MINUTES",
                       help="no batch is sent later than this before a window closes, for "
                       "the time a batch takes to process (default 10)")
    if not send:  # tests fix plan's "now" (the CLI otherwise reads the clock once)
        group.add_argument("--now", help=argparse.SUPPRESS)
    return group


@dataclass(frozen=True, slots=True)
class ScheduleArgs:
    """The flags' values, checked."""

    policy: QuietHours
    tz_column: str | None
    cap: int | None
    timing: Timing
    margin: timedelta
    now: datetime

    @property
    def asked(self) -> bool:
        """True when any schedule flag was given: plan then prints the schedule."""
        return self.policy.quiet or self.cap is not None or self.tz_column is not None or \
            self.timing.at is not None or self.timing.expire_at is not None


def schedule_args(args: argparse.Namespace, wall: float) -> ScheduleArgs:
    """The schedule flags of ``args``; ``wall`` is now, in epoch seconds (the CLI passes
    ``time.time()``), unless the hidden ``--now`` fixes it. ConfigErrors name the flag."""
    from datetime import UTC

    from engine.schedule.rules import parse_quiet_hours
    from engine.schedule.timing import Timing, check_timing, parse_instant

    def instant(text: str | None, flag: str) -> datetime | None:
        return None if text is None else parse_instant(text, flag)

    now = instant(args.now, "--now") or datetime.fromtimestamp(int(wall), UTC)  # to the second
    cap = None if args.daily_cap == NO_CAP else args.daily_cap
    check_timing(instant(args.at, "--at"), instant(args.expire_at, "--expire-at"))
    return ScheduleArgs(parse_quiet_hours(args.quiet_hours), args.tz_column, cap,
                        Timing(instant(args.at, "--at"), instant(args.expire_at, "--expire-at")),
                        timedelta(minutes=args.window_margin), now)


def _cap(value: str) -> int | str:
    if value.strip().lower() == NO_CAP:
        return NO_CAP  # no cap, not even the registration tier's
    try:
        cap = int(value.replace(",", "").replace("_", ""))
    except ValueError:
        cap = 0
    if cap < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number of messages; "
                                         "give e.g. 6000, or --daily-cap none for no cap")
    return cap


def _seconds(value: str) -> float:
    return _margin(value) * 60.0


def _margin(value: str) -> float:
    try:
        minutes = float(value)
    except ValueError:
        minutes = -1.0
    if not 0 <= minutes <= 120:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of minutes from 0 to "
                                         "120; give e.g. 10")
    return minutes
