"""A scheduled send (issue 22) as a loop of rounds, each the usual run on the same journal:
the first is the fresh run (its journal header holds the schedule before any POST), the
others are resumes of it. A round sends only the recipients whose window is open (``Eligible``),
at most what the day's cap leaves (``Quota``), and POSTs nothing past its deadline (the first
open window's closing less the margin, or --expire-at). Between rounds the loop waits for the
next: the earliest opening of a key with recipients left, the next cap day when today's is
full, --at; it emits a ``waiting`` event, sleeps with the injected ``sleep`` (or, with
``exit_when_waiting`` and a wait over 5 minutes, returns: the CLI exits 75 and ``a2p send
--resume`` continues). After --expire-at nothing is POSTed and what is left is ``expired``.

What is left is counted by a pass over the input (the records no kept chunk holds and none
rejected locally, by window key) after each round, and remembered beside the journal while
it is unchanged (engine/run/idleround.py): the survey before the next round, or a cron
tick's, takes it from there. A resume's round with nothing due and nothing to recover is not
run (no login, no pass). The journal lock is held for every round and let go while the loop
sleeps (`a2p outcomes` and a cron tick may use the journal then); at the wake it is taken
again, and a run that finds it held ends (JournalTakenError: a cron tick goes on with it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

from engine.errors import UsageError
from engine.reading import ReadOptions
from engine.run.bodyspool import BodySpool, open_spool
from engine.run.brandcap import OtherBatches, counting
from engine.run.capledger import NO_CAP, RoundCap, cap_ledger, carrier_halt, round_cap, sent_chunks
from engine.run.events import RunWarning, Summary
from engine.run.expiry import current, expiry_floor, judged_at, settle
from engine.run.idleround import SentMemo, idle_report, remember, remembered
from engine.run.journal import read_header
from engine.run.journallock import JournalLock
from engine.run.metrics import mark_finished
from engine.run.options import SendOptions
from engine.run.pacing import (
    PacedQuota,
    joined,
    paced_wait,
    round_deadline,
    round_quota,
    seen,
    started,
)
from engine.run.resumeheader import resume_options
from engine.run.roundreport import (
    holds,
    no_window_notes,
    placed,
    report_of,
    stamped,
    tell_expired,
    waiting_event,
)
from engine.run.roundsleep import sleep_unlocked
from engine.run.scheduling import (
    EXIT_WAIT,
    NEEDS_JOURNAL,
    Eligible,
    Keys,
    Quota,
    RoundLimits,
    Scheduling,
    count_keys,
    note_caught,
    zone_reading,
)
from engine.run.servertime import ServerClock, login_check
from engine.run.sharednumber import ahead_counter
from engine.run.sources import Recipients, is_path
from engine.run.spill import FileSpill, open_spill
from engine.schedule.caps import CapDay, Halt, cap_day
from engine.schedule.pacing import DEFAULT_SEND_RATE, Pacing
from engine.schedule.waves import Status, never_open, schedule_waves, status_at
from engine.schedule.windows import SEND_LEAD, WindowKey
from engine.schedule.zones import placer

RunRound = Callable[[Recipients | None, SendOptions, FileSpill, BodySpool, RoundLimits],
                    Awaitable[dict[str, Any]]]
# --wait accepted follows no batch: the carrier-cap halt never sees a failure then
BLIND_HALT = ("--wait accepted reads no batch's statuses, so the carrier-cap halt cannot see "
              "carriers failing messages over their daily caps (SMS-CAR-450/451/452) and will "
              "not stop the day's sending; use --wait completed or --wait delivered for the "
              "halt to work.")
MAX_ROUNDS = 100_000  # a bound, never reached: each round sends, or time moves on


@dataclass(frozen=True, slots=True)
class Outlook:
    """What is left at an instant and what may be sent then: the counts by key, which keys
    are open (``status``), the cap day, and whether --at/--expire-at allow sending."""

    now: datetime
    counts: dict[WindowKey, int]
    status: Status | None
    day: CapDay
    decision: str  # Timing.decide: wait (before --at), send, expired
    expire_at: datetime | None
    halt: Halt | None = None  # carrier daily-cap failures: nothing more this cap day
    sources: dict[str, int] = field(default_factory=dict)  # what is left by zone source
    # the round's share of the cap: new recipients, and the caught chunks it holds
    share: RoundCap = NO_CAP
    # the keys whose window never opens under the policy (fate no-window): never sent
    never: frozenset[WindowKey] = frozenset()

    @property
    def remaining(self) -> int:
        return sum(self.counts.values())

    @property
    def sendable(self) -> int:
        """What is left that a window may still open for (not ``no-window``)."""
        return sum(n for key, n in self.counts.items() if key not in self.never)

    @property
    def open_keys(self) -> frozenset[WindowKey]:
        if self.decision != "send" or self.day.full or self.status is None or self.halt:
            return frozenset()
        return frozenset(key for key, _ in self.status.open)

    @property
    def due(self) -> int:
        """How many recipients this instant allows (open keys, within the cap)."""
        open_now = self.open_keys
        return self.day.cut(sum(n for k, n in self.counts.items() if k in open_now))

    @property
    def deadline(self) -> float:
        """No POST from then on: the first open key's deadline (now when none is open)."""
        until = self.status.until if self.status is not None and self.open_keys else None
        return (until or self.now).timestamp()

    def next_round(self, at: datetime | None) -> tuple[datetime, str] | None:
        """When the next round may send something, and why it waits until then (None: no
        round is left: nobody is, or --expire-at passed)."""
        if self.decision == "expired" or not self.sendable:
            return None
        if self.due:
            return self.now, "due"
        found: tuple[datetime, str] | None = None
        if self.decision == "wait" and at is not None:
            found = at, "at"
        elif self.halt is not None:
            found = self.halt.until, "carrier-cap"
        elif self.day.full:
            found = self.day.ends, "daily-cap"
        elif self.status is not None and self.status.next_opening is not None:
            found = self.status.next_opening, "quiet-hours"
        if self.expire_at is not None and (found is None or self.expire_at <= found[0]):
            return self.expire_at, "expire-at"
        # no opening in the horizon (days of closed windows): look again in a day
        return found or (self.now + timedelta(days=1), "quiet-hours")


@dataclass(frozen=True, slots=True)
class Paced:
    """A round's pacing (engine/run/pacing.py) and its deadline, epoch seconds."""

    pacing: Pacing
    deadline: float


def survey(path: str, read: ReadOptions, keys: Keys, journal: Path | None,
           schedule: Scheduling, now: datetime, memo: SentMemo | None = None,
           others: OtherBatches | None = None, offset: float = 0.0) -> Outlook:
    """The outlook at ``now``: a pass over the input (and the journal, when there is one),
    unless the journal has not changed since the last one counted (``remembered``; and
    ``memo``, the chunks sent as last read). ``others``: the sender's batches of other runs
    the server listed, on the cap day too; ``offset``: the server's clock less this
    machine's, by which ``now`` is judged (the journal's stamps are this machine's)."""
    extra = [] if others is None else others.ledger()
    counts, sources = _counts(path, read, keys, journal, schedule)
    sent = [] if journal is None else \
        (memo or SentMemo()).get(journal, sent_chunks)
    note_caught(path, read, keys, sent)  # --tz-column: a caught chunk judged by its zones
    if offset:  # each chunk on the cap day of the server's clock, as ``now`` is
        sent = [(when + timedelta(seconds=offset), chunk) for when, chunk in sent]
    decision = schedule.timing.decide(now)
    status = status_at(counts, schedule.policy, now, margin=timedelta(seconds=schedule.margin),
                       until=schedule.expire_at, lead=SEND_LEAD) if counts else None
    never = never_open(status.closed, schedule.policy, now,
                       margin=timedelta(seconds=schedule.margin)) if status is not None \
        else frozenset()
    return Outlook(now, counts, status, cap_day(schedule.cap, [*cap_ledger(sent), *extra], now),
                   decision, schedule.expire_at, carrier_halt(sent, now), sources,
                   round_cap(schedule.cap, sent, now, extra), never)


def _counts(path: str, read: ReadOptions, keys: Keys, journal: Path | None,
            schedule: Scheduling) -> tuple[dict[WindowKey, int], dict[str, int]]:
    """The recipients left by key, and by zone source: remembered beside the journal while it
    is unchanged (no pass), else counted (a pass over the input) and remembered."""
    def count() -> tuple[dict[WindowKey, int], dict[str, int]]:
        sources: dict[str, int] = {}
        counts = count_keys(path, read, keys, journal, sources)
        return {k: n for k, n in counts.items() if n}, sources

    if journal is None:
        return count()
    basis = {"source": path, "schedule": schedule.as_header()}
    return remembered(journal, basis) or remember(journal, basis, count)


def fresh_read(options: SendOptions) -> ReadOptions:
    """How a new run reads its list (the suppression lists apply in the round itself)."""
    return options.read or ReadOptions(batch_text=options.text, template=options.template)


async def send_rounds(recipients: Recipients | None, options: SendOptions,
                      schedule: Scheduling, run_round: RunRound,
                      notes: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    """The scheduled send: rounds until everyone is sent, the rest expired, a stop, or (with
    ``exit_when_waiting``) a wait over 5 minutes. Returns the last round's report, with its
    ``schedule`` (``state`` waiting: continue with ``send(resume=journal)``). ``notes``:
    (code, message) warnings the first round starts with."""
    journal = options.resume if options.resume is not None else options.journal
    if journal is None:
        raise UsageError(NEEDS_JOURNAL)
    if options.resume is None and (recipients is None or not is_path(recipients)):
        raise UsageError("a scheduled send reads its list again at every round: give a file "
                         "(not stdin or an iterable), or send without a schedule.")
    path = Path(journal)
    fresh = options.resume is None
    stop = options.stop or anyio.Event()
    held: list[dict[str, Any]] = []

    async def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "summary":  # one summary: the last round's, at the end
            held[:] = [event]
            return
        if event["event"] == "resumed" and held:  # a round of this call: counted already
            return
        await options.emit(placed(event, keys))

    column = schedule.tz_column
    keys = Keys(placer(column="--tz-column" if column is None else f"--tz-column {column}"),
                schedule.policy)
    # every round, its surveys and its resumes read the zone column (and refuse the numbers
    # nothing places) alike: the read options carry the checks, which no journal records
    read = ReadOptions.from_header(read_header(path).get("read", {})) \
        if options.resume is not None and options.read is None else fresh_read(options)
    options = replace(options, read=zone_reading(read, schedule, keys.placer))
    base = replace(options, on_event=on_event, stop=stop)
    command = "a2p send --resume" if not fresh else "a2p send"
    try:
        with JournalLock(path, command, create=fresh) as lock:
            if not fresh:  # an expiry brought forward is journaled before any round
                schedule = settle(path, schedule, _now(options))
            return await _rounds(recipients, options, schedule, run_round, path, keys, base,
                                 lock, notes, ServerClock(options.wall))
    finally:  # the last round's summary, last, whichever way the rounds ended
        for event in held:
            await options.emit(event)
        if options.metrics is not None and held:  # each round left it unfinished
            mark_finished(options.metrics)


async def _rounds(recipients: Recipients | None, options: SendOptions, schedule: Scheduling,
                  run_round: RunRound, path: Path, keys: Keys, base: SendOptions,
                  lock: JournalLock, notes: tuple[tuple[str, str], ...] = (),
                  clock: ServerClock | None = None) -> dict[str, Any]:
    """The rounds, each under the journal lock (let go while the loop sleeps): a run of
    ``run_round`` (none when nothing is due and nothing to recover), then the wait. Each
    judged by ``clock`` (the server's time once a login measured it)."""
    clock = clock or ServerClock(options.wall)
    others = OtherBatches()  # the sender's batches of other runs, as the rounds listed them
    fresh, stop = options.resume is None, base.stop or anyio.Event()
    document: dict[str, Any] = {}
    memo = SentMemo()
    # a resume given the list (it moved: --input): every round reads it, checked as the
    # journal's; else the journal's own path (or the file of its name beside the journal)
    listed = recipients if not fresh and recipients is not None and is_path(recipients) \
        else None
    # a run that ended expired stays so: judged no earlier than its journaled expiry
    floor = None if fresh else expiry_floor(path)
    # the server's queue and rate, across the rounds (a resume's from its journal)
    pacing = started(options.send_rate or DEFAULT_SEND_RATE,
                     [] if fresh else sent_chunks(path))
    for number in range(MAX_ROUNDS):
        first = fresh and number == 0
        if not first:  # a resume may have brought --expire-at forward while this one slept,
            schedule = current(path, schedule)  # or ended the run expired
            floor = expiry_floor(path) or floor
        if first:
            assert recipients is not None
            source, read, round_options = str(recipients), fresh_read(options), base
        else:
            given, read_again = resume_options(path, replace(base, resume=path), listed)
            source, read = str(given), read_again.read or ReadOptions()
            round_options = replace(base, resume=path, journal=None)
        now = judged_at(clock.now(), floor)
        before = survey(source, read, keys, None if first else path, schedule, now, memo,
                        others, clock.offset)
        deadline = round_deadline(before.deadline, before.day, schedule.cap, schedule.margin,
                                  floor)
        unfit = pacing.unfit
        idle = None if first else await _idle(before, schedule, path, round_options, listed)
        if idle is not None:
            after, document = idle
        else:
            starting = (*notes, *((("carrier-cap", BLIND_HALT),)
                                  if schedule.cap is not None and options.wait == "accepted"
                                  else ()), *no_window_notes(before, schedule)) \
                if number == 0 else ()
            ran, document = await _round(first, recipients if first else listed, source,
                                         read, round_options, before, schedule, run_round,
                                         path, keys, options, memo, starting, clock, others,
                                         Paced(pacing, deadline), floor)
            if stop.is_set() or ran is None:
                break
            if clock.changed:  # its limits were judged by another clock: judge again now
                clock.changed = False
                continue
            after = ran
        if after.decision == "expired" and after.remaining:
            await tell_expired(after, schedule, path, options)  # once: not on every tick
            break
        nxt = after.next_round(schedule.at)
        if nxt is None:
            break
        if nxt[1] == "due":  # unless the server's queue or the cap day's end holds it
            nxt = paced_wait(pacing, after.now, deadline, before.deadline, after.day,
                             after.due, clock.offset) or nxt
        if nxt[1] == "due" and before.due and after.share.caught == before.share.caught and \
                after.remaining >= before.remaining + before.share.held_messages and \
                after.now.timestamp() < before.deadline:
            # it could send and sent nothing, and no window closed: chunks cut to the room
            # that no longer fit when they went (the reading took longer than the slack)
            # wait for the deadline; else its report says why (failed batches)
            if pacing.unfit == unfit:
                break
            nxt = datetime.fromtimestamp(deadline, UTC), "processing"
        if nxt[1] == "due":
            continue  # the next round, now
        if nxt[1] == "carrier-cap" and after.halt is not None:
            await options.emit(stamped(RunWarning("carrier-cap", after.halt.reason),
                                           path, options))
        seconds = max(0.0, (nxt[0] - after.now).total_seconds())
        await options.emit(waiting_event(after, nxt, path, options))
        if options.exit_when_waiting and seconds > EXIT_WAIT:
            break
        known = seen(sent_chunks(path))
        if await sleep_unlocked(options, seconds, stop, lock, path):
            break
        joined(pacing, sent_chunks(path), known)  # another process's POSTs meanwhile
    return document


async def _round(first: bool, recipients: Recipients | None, source: str, read: ReadOptions,
                 round_options: SendOptions, before: Outlook, schedule: Scheduling,
                 run_round: RunRound, path: Path, keys: Keys, options: SendOptions,
                 memo: SentMemo, notes: tuple[tuple[str, str], ...], clock: ServerClock,
                 others: OtherBatches, paced: Paced, floor: datetime | None = None
                 ) -> tuple[Outlook | None, dict[str, Any]]:
    """One round run: its outlook after (None: it made no report, a stop) and report.
    ``notes``: the (code, message) warnings it starts with; ``paced``: the pacing and the
    round's deadline (the window's, or the cap day's end less the margin); ``floor``: the
    journaled expiry, before which the run is never judged."""
    header = None
    if first:
        waves = schedule_waves(before.counts, schedule.policy, schedule.timing.start(before.now),
                               margin=timedelta(seconds=schedule.margin),
                               until=schedule.expire_at)
        header = {**schedule.as_header(),
                  "counts": [{"key": k.as_json(), "count": n}
                             for k, n in sorted(before.counts.items())],
                  "waves": waves.as_json()}
    after: list[Outlook] = []

    def report() -> dict[str, Any]:
        after.append(survey(source, read, keys, path, schedule,
                            judged_at(clock.now(), floor), memo, others, clock.offset))
        return report_of(after[-1], schedule)

    # the caught chunks this round may resend today come off the day's allowance first;
    # one that does not fit is held, as one whose windows are closed
    share = before.share
    quota = Quota(share.allowed)

    count_others = counting(schedule.cap, before.day.starts, others, quota,
                            lambda: clock.changed)

    # the deadline on this machine's clock, which the sender reads; the pacing after the
    # day's quota (what the server can process by then)
    deadline = clock.machine(paced.deadline)
    limits = RoundLimits(Eligible(keys, before.open_keys),
                         round_quota(quota, PacedQuota(paced.pacing, deadline, options.wall)),
                         deadline, header, report, holds(keys, before),
                         notes=notes + clock.notes(), on_login=login_check(clock),
                         count_others=count_others, pacing=paced.pacing,
                         daily_cap=schedule.cap,
                         count_ahead=ahead_counter(paced.pacing, options.wall))
    with open_spill(path, options.report) as spill, open_spool(path, options.report) as spool:
        document = await run_round(recipients, round_options, spill, spool, limits)
    return (after[-1] if after else None), document


async def _idle(before: Outlook, schedule: Scheduling, path: Path, options: SendOptions,
                listed: Recipients | None = None) -> tuple[Outlook, dict[str, Any]] | None:
    """A resume's round that would do nothing (nothing due, or nothing left, or --expire-at
    passed; and no chunk to recover): not run; its report is written from the journal (from
    ``listed``, the list where it is now, when a resume was given it), and the loop goes on
    with ``before`` (to the wait, or the end: a cron tick after the run is done or expired
    logs in to nothing and reads no input). None: the round runs."""
    nxt = before.next_round(schedule.at)
    if nxt is not None and nxt[1] == "due":
        return None
    if nxt is None and before.decision != "expired" and before.sendable:
        return None  # nothing left: the round settles what is in flight
    done = idle_report(path, options, report_of(before, schedule), listed)
    if done is None:
        return None
    await options.emit(stamped(Summary(done.document["status"], done.totals), path,
                                   options))
    return before, done.document


def _now(options: SendOptions) -> datetime:
    return datetime.fromtimestamp(options.wall(), UTC)
