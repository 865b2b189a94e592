"""Whose clock a scheduled send keeps (issue 22, adv22 F5): the windows and the cap days are
the recipients' and the carriers' time, which the server's clock tells better than a machine
whose clock may be minutes off (a VM restored from a snapshot, a laptop after a suspend, an
NTP step). The server's time is read from its answers' Date header; when it differs from the
machine's by more than ``SKEW_TOLERANCE`` the schedule follows the server's (the machine's
clock plus the offset), and a warning names both clocks.

Pure: the offsets are measured by the caller (engine/run/servertime.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

# seconds the machine's clock may differ from the server's before the schedule follows the
# server's: the Date header has a 1-second resolution, and a request takes a moment
SKEW_TOLERANCE = 5.0
# a change of the applied offset smaller than this is the header's resolution, not news
JITTER = 2.0


def applied_offset(measured: float | None) -> float:
    """The offset the schedule applies (server minus machine, seconds): the measured one
    beyond the tolerance, else none (None: not measured yet)."""
    if measured is None or abs(measured) <= SKEW_TOLERANCE:
        return 0.0
    return measured


def moved(before: float, after: float) -> bool:
    """Whether the applied offset changed enough for a round's limits to be judged again."""
    return abs(after - before) > JITTER


def skew_warning(machine: float, offset: float) -> str:
    """The warning naming both clocks, when the schedule follows the server's."""
    def shown(epoch: float) -> str:
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    way = "ahead of" if offset < 0 else "behind"
    return (f"this machine's clock ({shown(machine)}) is {abs(offset):,.0f} s {way} the "
            f"server's ({shown(machine + offset)}, from its Date header): the schedule's "
            "windows and cap days follow the server's clock. Set this machine's clock right "
            "(NTP).")
