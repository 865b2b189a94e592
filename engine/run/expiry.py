"""A scheduled send's --at and --expire-at against the run's clock: a new run's times already
past (``past_times``), and the expiry a run ended with, journaled so no later process undoes it.

When --expire-at passes with recipients left, by the clock of the process that runs the
rounds (the library's ``wall``: a simulated clock, or a machine's), the loop of rounds
journals an ``expired`` entry: the instant, the expiry and how many were left. From then on
that instant is the run's floor: a resume, or ``a2p outcomes``, judges the run at the later
of its own clock and that instant. A process whose clock is behind (another machine, the CLI
after a rehearsal on simulated days) thus finds the run expired, as it ended, rather than
"waiting" for a window that the run's own clock has left behind: it sends nobody, its report
says ``expired`` and the command exits 0; `a2p outcomes` tells those recipients ``expired``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.run.journal import Journal, JournalState, read_journal
from engine.run.scheduling import Scheduling
from engine.schedule.windows import stamp


def expiry_of(state: JournalState) -> datetime | None:
    """The instant the journal says the run ended expired (None: it did not)."""
    entry = state.expired
    if not entry or not entry.get("at"):
        return None
    try:
        return datetime.fromisoformat(str(entry["at"])).astimezone(UTC)
    except ValueError:
        return None


def record_expiry(journal: Path, now: datetime, expire_at: datetime | None,
                  remaining: int) -> None:
    """Journal that the run ended expired at ``now`` with ``remaining`` recipients left (once:
    a journal that says so already is left as it is). The caller holds the journal's lock."""
    state = read_journal(journal)
    if state.expired is not None:
        return
    entry: dict[str, Any] = {"type": "expired", "at": stamp(now),
                             "expireAt": None if expire_at is None else stamp(expire_at),
                             "remaining": remaining}
    appended = Journal.reopen(journal, state.complete_bytes)
    try:
        appended.write(entry)
    finally:
        appended.close()


def judged_at(now: datetime, floor: datetime | None) -> datetime:
    """The instant a run is judged at: ``now``, never before the run's journaled expiry."""
    return now if floor is None or now >= floor else floor


def past_times(schedule: Scheduling, now: datetime) -> tuple[tuple[str, str], ...]:
    """A new run's --at and --expire-at against ``now``: an expiry already past would expire
    everyone before a single POST (a mistyped date throwing the campaign away), so it is
    refused; a start already past means "now", and a warning says so (a mistyped date
    starting the campaign at once is seen at its first line)."""
    if schedule.expire_at is not None and schedule.expire_at <= now:
        raise UsageError(
            f"--expire-at {stamp(schedule.expire_at)} is already past (now {stamp(now)}): "
            "the run would expire every recipient before sending one. Give a later time "
            "(check the date), or leave --expire-at out.")
    if schedule.at is not None and schedule.at < now:
        return (("at-past", f"--at {stamp(schedule.at)} is already past (now {stamp(now)}): "
                 "the run starts now. If the date is a typo, stop it (Ctrl-C) and give the "
                 "right one."),)
    return ()
