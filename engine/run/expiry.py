"""Ending a scheduled run early (issue 22): ``--expire-at`` brought forward on a resume.

A scheduled run is resumed by a cron line or a CronJob until it ends, so an operator who
wants to send the rest otherwise must first end it, or both runs text the same people. A
resume may bring ``--expire-at`` forward (``now`` or a time), never later than the journal's
(a later one would send what the run was told not to: a different run). The new expiry is
journaled as a ``schedule`` line, which every later reader of the journal's schedule (the
rounds, a cron tick, ``a2p outcomes``) honours: from then on nothing is POSTed and what is
left is ``expired``, so the next tick ends the run (state ``expired``, exit 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from engine.run.journal import Journal, read_journal
from engine.run.scheduling import Scheduling
from engine.schedule.windows import stamp

ENTRY = b'{"type":"schedule"'


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
