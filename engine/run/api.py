"""The library door: ``await engine.send(recipients, options)`` (the other doors are
engine/run/doors.py).

``send`` checks what its options ask before any login (a report over the journal, a resend
cap, a schedule without a journal, a resume's journal and schedule, times already past, the
tier's daily cap), takes the journal's lock, and hands over to one run (engine/run/onerun.py)
or to a loop of rounds (engine/run/rounds.py).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Unpack, cast

from engine.errors import UsageError
from engine.run.bodyspool import open_spool
from engine.run.expiry import journaled_expiry, past_times
from engine.run.journal import read_header
from engine.run.journallock import JournalLock
from engine.run.metrics import check_path as check_metrics_path
from engine.run.onerun import send_once
from engine.run.options import ON_AMBIGUOUS, WAITS, SendKeywords, SendOptions
from engine.run.optiontypes import check_recipients
from engine.run.prepare import check_journal, refuse_report_over
from engine.run.rounds import send_rounds
from engine.run.scheduling import NEEDS_JOURNAL, check_resend_cap, resumed_scheduling
from engine.run.shapes import Report
from engine.run.sources import Recipients
from engine.run.spill import open_spill
from engine.run.tiercap import tier_cap, wants_tier_cap

__all__ = ["ON_AMBIGUOUS", "WAITS", "Recipients", "SendOptions", "send"]


async def send(recipients: Recipients | None = None, options: SendOptions | None = None,
               **keywords: Unpack[SendKeywords]) -> Report:
    """Send one campaign and return its report (a JSON-ready dict, typed ``Report``).

    ``recipients`` is a path (CSV, JSONL, plain lines, .gz; "-" for stdin), an iterable or an
    async iterable of numbers, (to, text) pairs or mappings. ``options`` is a SendOptions;
    keyword arguments build one (or change the one given): see engine/run/options.py.

    Its ``rejected`` is a read-only view of the written report (a temporary file without
    ``report``): ``len()``, iteration by position (the dicts a list held), indexing, ``==``;
    ``orjson.dumps(report, default=list)`` (docs/events-and-report.md, the report's writing).

    >>> import asyncio, engine                                          # doctest: +SKIP
    >>> report = asyncio.run(engine.send(["+14155550100"], sender="+16505550100",
    ...                                  text="Hello"))                   # doctest: +SKIP
    """
    check_recipients(recipients)
    return cast(Report, await _door(recipients, SendOptions.of(options, keywords)))


async def _door(recipients: Recipients | None, options: SendOptions) -> dict[str, Any]:
    """``send`` once its options are one value."""
    journal = options.resume if options.resume is not None else options.journal
    refuse_report_over(options.report, journal, "the journal")
    check_metrics_path(options.metrics)  # before any login
    scheduling = options.scheduling()
    check_resend_cap(options.on_ambiguous, scheduling)
    if journal is None:
        if scheduling.active:  # before any login: without rounds the schedule would be lost
            raise UsageError(NEEDS_JOURNAL)
        with open_spill(None, options.report) as spill, \
                open_spool(None, options.report) as spool:
            return await send_once(recipients, options, spill, spool)
    # One process per journal, from before the first request to after the report is written:
    # a second process (a double-click, an overlapping cron job) is refused here, at once.
    # The lock is on the journal file itself: a fresh run makes it (empty) to lock it.
    if options.resume is not None:
        check_journal(Path(options.resume))
    if options.resume is not None:
        scheduling = resumed_scheduling(scheduling, options.schedule_flags(),
                                        read_header(Path(options.resume)),
                                        os.fspath(options.resume),
                                        journaled_expiry(Path(options.resume)))
    notes: tuple[tuple[str, str], ...] = ()
    if options.resume is None and scheduling.active:  # before any request: refused, or said
        notes = past_times(scheduling, datetime.fromtimestamp(options.wall(), UTC))
    if wants_tier_cap(options, scheduling):  # --daily-cap's default: the tier's cap
        scheduling, tier_notes = await tier_cap(options, scheduling)
        notes = (*notes, *tier_notes)
    check_resend_cap(options.on_ambiguous, scheduling)  # a resume's cap, or the tier's
    if scheduling.active:  # a loop of rounds, each a resume of the journal
        return await send_rounds(recipients, options, scheduling, send_once, notes)
    command = "a2p send --resume" if options.resume is not None else "a2p send"
    with JournalLock(Path(journal), command, create=options.resume is None), \
            open_spill(journal, options.report) as spill, \
            open_spool(journal, options.report) as spool:
        return await send_once(recipients, options, spill, spool)

