"""A scheduled run's expiry (issue 22), as the journal keeps it: brought forward by a resume
(a ``schedule`` line), and reached (an ``expired`` entry); and a new run's --at and
--expire-at already past (``past_times``).

Brought forward: a scheduled run is resumed by a cron line or a CronJob until it ends, so an
operator who wants to send the rest otherwise must first end it, or both runs text the same
people. A resume may bring ``--expire-at`` forward (``now`` or a time), never later than the
journal's (a later one would send what the run was told not to: a different run). The new
expiry is journaled as a ``schedule`` line, which every later reader of the journal's
schedule (the rounds, a cron tick, ``a2p outcomes``) honours: from then on nothing is POSTed
and what is left is ``expired``, so the next tick ends the run (state ``expired``, exit 0).

Reached: when --expire-at passes with recipients left, by the clock of the process that runs
the rounds (the library's ``wall``: a simulated clock, or a machine's; the server's once a
login measured it), the loop of rounds journals an ``expired`` entry: the instant, the expiry
and how many were left. From then on that instant is the run's floor: a resume, or
``a2p outcomes``, judges the run at the later of its own clock and that instant. A process
whose clock is behind (another machine, the CLI after a rehearsal on simulated days) thus
finds the run expired, as it ended, rather than "waiting" for a window that the run's own
clock has left behind: it sends nobody, its report says ``expired`` and the command exits 0;
`a2p outcomes` tells those recipients ``expired``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from engine.errors import UsageError
from engine.run.journal import Journal, JournalState, read_journal
from engine.run.scheduling import Scheduling
from engine.schedule.windows import stamp

ENTRY = b'{"type":"schedule"'
EXPIRED_ENTRY = b'{"type":"expired"'  # how record_expiry's journal line begins (orjson)


# --- brought forward: the ``schedule`` lines a resume journals ---

def journaled_expiry(path: Path) -> datetime | None:
    """The earliest ``--expire-at`` a resume journaled (None: none did)."""
    found: datetime | None = None
    with path.open("rb") as handle:
        for line in handle:
            if not line.startswith(ENTRY):
                continue
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a torn last line: never acted on
            when = datetime.fromisoformat(str(entry["expireAt"])).astimezone(UTC)
            found = when if found is None else min(found, when)
    return found


def effective(path: Path, header: Mapping[str, Any]) -> Scheduling:
    """The journal's schedule: its header's, with ``--expire-at`` as a resume brought it
    forward."""
    recorded = Scheduling.from_header(header["schedule"]) if header.get("schedule") else \
        Scheduling()
    return current(path, recorded)


def current(path: Path, schedule: Scheduling) -> Scheduling:
    """``schedule`` with the journal's earliest expiry (a resume may have brought it forward
    while this run slept)."""
    found = journaled_expiry(path)
    if found is None or (schedule.expire_at is not None and schedule.expire_at <= found):
        return schedule
    return replace(schedule, expire_at=found)


def settle(path: Path, schedule: Scheduling, now: datetime) -> Scheduling:
    """Under the journal's lock: journal ``schedule``'s expiry when it is earlier than the
    journal's (a ``schedule`` line, before any round), and answer the schedule in force."""
    kept = current(path, Scheduling.from_header(read_journal(path).header["schedule"]))
    if schedule.expire_at is None or (kept.expire_at is not None and
                                      kept.expire_at <= schedule.expire_at):
        return kept
    state = read_journal(path)
    journal = Journal.reopen(path, state.complete_bytes)
    try:
        journal.write({"type": "schedule", "expireAt": stamp(schedule.expire_at),
                       "journaledAt": stamp(now), "was": None if kept.expire_at is None
                       else stamp(kept.expire_at)})
    finally:
        journal.close()
    return replace(kept, expire_at=schedule.expire_at)


# --- reached: the ``expired`` entry, the floor a later process judges the run at ---

def expiry_of(state: JournalState) -> datetime | None:
    """The instant the journal says the run ended expired (None: it did not)."""
    entry = state.expired
    if not entry or not entry.get("at"):
        return None
    try:
        return datetime.fromisoformat(str(entry["at"])).astimezone(UTC)
    except ValueError:
        return None


def expiry_floor(path: Path) -> datetime | None:
    """The journal's expiry instant (``expiry_of``), read in full only when a line scan finds
    one: each round asks, since a cron tick or an operator's ``--expire-at now`` may have
    ended the run expired while this process slept."""
    return expiry_of(read_journal(path)) if expiry_noted(path) else None


def expiry_noted(path: Path) -> bool:
    """Whether the journal says the run ended expired (a line scan: no parse)."""
    with path.open("rb") as lines:
        return any(line.startswith(EXPIRED_ENTRY) for line in lines)


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


# --- a new run's times ---

def past_times(schedule: Scheduling, now: datetime) -> tuple[tuple[str, str], ...]:
    """A new run's --at and --expire-at against ``now``: an expiry already past would expire
    everyone before a single POST (a mistyped date throwing the campaign away), so it is
    refused; a start already past means "now", and a warning says so (a mistyped date
    starting the campaign at once is seen at its first line). A resume's earlier expiry (a
    run ended with ``--expire-at now``) is not a new run's: this is not asked of it."""
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
