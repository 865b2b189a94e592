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
rejected locally, by window key) before and after each round: flat memory, and a kill
anywhere leaves nothing to count wrong. The journal lock is held across every round.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

from engine.batching.bodyscan import pieces_of, recipients
from engine.batching.chunker import Chunk
from engine.errors import UsageError
from engine.reading import ReadOptions
from engine.run.bodyspool import BodySpool, open_spool
from engine.run.events import Event, Expired, RunWarning, Stamper, Waiting
from engine.run.journal import read_header
from engine.run.journallock import JournalLock
from engine.run.metrics import mark_finished
from engine.run.options import SendOptions
from engine.run.pacing import PacedQuota, paced_wait, round_deadline, round_quota, started
from engine.run.resume import resume_options
from engine.run.scheduling import (
    EXIT_WAIT,
    Eligible,
    Keys,
    Quota,
    RoundLimits,
    Scheduling,
    cap_ledger,
    carrier_halt,
    count_keys,
    sent_chunks,
)
from engine.run.sources import Recipients, is_path
from engine.run.spill import FileSpill, open_spill
from engine.schedule.caps import CapDay, Halt, cap_day
from engine.schedule.pacing import DEFAULT_SEND_RATE
from engine.schedule.waves import Status, schedule_waves, status_at
from engine.schedule.windows import WindowKey, stamp
from engine.schedule.zones import placer

RunRound = Callable[[Recipients | None, SendOptions, FileSpill, BodySpool, RoundLimits],
                    Awaitable[dict[str, Any]]]
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

    @property
    def remaining(self) -> int:
        return sum(self.counts.values())

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
        if self.decision == "expired" or not self.remaining:
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

    def fate(self) -> str:
        """What the recipients left are now: expired, daily-cap or deferred."""
        if self.decision == "expired":
            return "expired"
        return "daily-cap" if self.day.full or self.halt is not None else "deferred"


def survey(path: str, read: ReadOptions, keys: Keys, journal: Path | None,
           schedule: Scheduling, now: datetime) -> Outlook:
    """The outlook at ``now``: a pass over the input (and the journal, when there is one)."""
    counts = {k: n for k, n in count_keys(path, read, keys, journal).items() if n}
    sent = sent_chunks(journal) if journal is not None else []
    decision = schedule.timing.decide(now)
    status = status_at(counts, schedule.policy, now, margin=timedelta(seconds=schedule.margin),
                       until=schedule.expire_at) if counts else None
    return Outlook(now, counts, status, cap_day(schedule.cap, cap_ledger(sent), now), decision,
                   schedule.expire_at, carrier_halt(sent, now))


def fresh_read(options: SendOptions) -> ReadOptions:
    """How a new run reads its list (the suppression lists apply in the round itself)."""
    return options.read or ReadOptions(batch_text=options.text, template=options.template)


def report_of(look: Outlook, schedule: Scheduling) -> dict[str, Any]:
    """The report's ``schedule``: the options, what is left and why, when the next round
    is; its ``totals`` go into the report's totals (deferred, expired, dailyCap)."""
    nxt = look.next_round(schedule.at)
    fate = look.fate() if look.remaining else None
    return {**schedule.as_header(), "remaining": look.remaining,
            "state": "done" if not look.remaining else
            "expired" if fate == "expired" else "waiting",
            "nextRound": None if nxt is None else stamp(nxt[0]),
            "waitingFor": None if nxt is None else nxt[1],
            "byZone": _by_zone(look.counts),
            "totals": {"deferred": look.remaining if fate == "deferred" else 0,
                       "expired": look.remaining if fate == "expired" else 0,
                       "dailyCap": look.remaining if fate == "daily-cap" else 0}}


def _by_zone(counts: dict[WindowKey, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, n in counts.items():
        name = " ".join(key.zones) or "any"
        out[name] = out.get(name, 0) + n
    return out


def waiting_line(until: datetime, reason: str, remaining: int) -> str:
    """The progress line: what the run waits for and until when, local and UTC."""
    what = {"quiet-hours": "the next recipients' window to open",
            "daily-cap": "the next day of the daily cap (00:00 America/Los_Angeles)",
            "carrier-cap": "the next day (carriers failed today's messages over their caps)",
            "processing": "the server to process what it has queued (no room for more "
                          "before the window's deadline)",
            "at": "--at", "expire-at": "--expire-at"}.get(reason, reason)
    local = until.astimezone()  # this machine's zone, as the user reads the clock
    return (f"waiting for {what} until {local:%H:%M} local (UTC {until:%Y-%m-%d %H:%M}); "
            f"{remaining:,} recipients left")


def admits(keys: Keys, open_keys: frozenset[WindowKey]) -> Callable[[Chunk], bool]:
    """Whether a chunk a run before cut (caught in flight, proved not created) may be sent
    again now: every one of its recipients' windows is open."""
    return lambda chunk: all(keys(to) in open_keys for to in recipients(pieces_of(chunk.body)))


async def send_rounds(recipients: Recipients | None, options: SendOptions,
                      schedule: Scheduling, run_round: RunRound) -> dict[str, Any]:
    """The scheduled send: rounds until everyone is sent, the rest expired, a stop, or (with
    ``exit_when_waiting``) a wait over 5 minutes. Returns the last round's report, with its
    ``schedule`` (``state`` waiting: continue with ``send(resume=journal)``)."""
    journal = options.resume if options.resume is not None else options.journal
    if journal is None:
        raise UsageError("a scheduled send (quiet hours, a daily cap, --at or --expire-at) "
                         "needs a journal: its rounds are resumes of it. Pass journal=PATH "
                         "(a2p send writes one beside the report).")
    if options.resume is None and (recipients is None or not is_path(recipients)):
        raise UsageError("a scheduled send reads its list again at every round: give a file "
                         "(not stdin or an iterable), or send without a schedule.")
    if schedule.tz_column is not None:
        raise UsageError("--tz-column: a send does not read a zone column yet (a2p plan "
                         "does); leave it out to place recipients by their numbers.")
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
        await options.on_event(event)

    keys = Keys(placer(), schedule.policy)
    base = replace(options, on_event=on_event, stop=stop)
    command = "a2p send --resume" if not fresh else "a2p send"
    try:
        with JournalLock(path, command, create=fresh):
            return await _rounds(recipients, options, schedule, run_round, path, keys, base)
    finally:  # the last round's summary, last, whichever way the rounds ended
        for event in held:
            await options.on_event(event)
        if options.metrics is not None and held:  # each round left it unfinished
            mark_finished(options.metrics)


async def _rounds(recipients: Recipients | None, options: SendOptions, schedule: Scheduling,
                  run_round: RunRound, path: Path, keys: Keys, base: SendOptions
                  ) -> dict[str, Any]:
    """The rounds, under the journal lock: each a run of ``run_round``, then the wait."""
    fresh, stop = options.resume is None, base.stop or anyio.Event()
    document: dict[str, Any] = {}
    # the server's queue and rate, across the rounds (a resume's from its journal)
    pacing = started(options.send_rate or DEFAULT_SEND_RATE,
                     [] if fresh else sent_chunks(path))
    for number in range(MAX_ROUNDS):
        first = fresh and number == 0
        if first:
            assert recipients is not None
            source, read, round_options = str(recipients), fresh_read(options), base
        else:
            given, read_again = resume_options(path, replace(base, resume=path), None)
            source, read = str(given), read_again.read or ReadOptions()
            round_options = replace(base, resume=path, journal=None)
        now = _now(options)
        before = survey(source, read, keys, None if first else path, schedule, now)
        header = None
        if first:
            waves = schedule_waves(before.counts, schedule.policy,
                                   schedule.timing.start(now),
                                   margin=timedelta(seconds=schedule.margin),
                                   until=schedule.expire_at)
            header = {**schedule.as_header(),
                      "counts": [{"key": k.as_json(), "count": n}
                                 for k, n in sorted(before.counts.items())],
                      "waves": waves.as_json()}
        after: list[Outlook] = []

        def report(source: str = source, read: ReadOptions = read,
                   after: list[Outlook] = after) -> dict[str, Any]:
            after.append(survey(source, read, keys, path, schedule, _now(options)))
            return report_of(after[-1], schedule)

        deadline = round_deadline(before.deadline, before.day, schedule.cap, schedule.margin)
        limits = RoundLimits(Eligible(keys, before.open_keys),
                             round_quota(Quota(before.day.allowed),
                                         PacedQuota(pacing, deadline, options.wall)),
                             deadline, header, report, admits(keys, before.open_keys), pacing)
        with open_spill(path, options.report) as spill, \
                open_spool(path, options.report) as spool:
            document = await run_round(recipients if first else None, round_options,
                                       spill, spool, limits)
        if stop.is_set() or not after:
            break
        look = after[-1]
        if look.decision == "expired" and look.remaining:
            await options.on_event(_stamped(Expired(
                look.remaining, stamp(schedule.expire_at or look.now)), path, options))
            break
        nxt = look.next_round(schedule.at)
        if nxt is None:
            break
        if nxt[1] == "due":  # unless the server's queue or the cap day's end holds it
            nxt = paced_wait(pacing, look.now, deadline, before.deadline, look.day,
                             look.due) or nxt
        if nxt[1] == "due":
            if before.due and look.remaining >= before.remaining and \
                    look.now.timestamp() < before.deadline:
                break  # it could send, sent nothing, and no window closed: its report
            continue  # says why (failed batches); else the next round, now
        if nxt[1] == "carrier-cap" and look.halt is not None:
            await options.on_event(_stamped(RunWarning("carrier-cap", look.halt.reason),
                                            path, options))
        seconds = max(0.0, (nxt[0] - look.now).total_seconds())
        await options.on_event(_stamped(Waiting(stamp(nxt[0]), seconds, nxt[1],
                                                waiting_line(nxt[0], nxt[1], look.remaining),
                                                look.remaining), path, options))
        if options.exit_when_waiting and seconds > EXIT_WAIT:
            break
        if await _sleep_or_stop(options, seconds, stop):
            break
    return document


def _stamped(event: Event, path: Path, options: SendOptions) -> dict[str, Any]:
    """An event of the loop itself, with the time and the run's id as a round's carry."""
    return Stamper(str(read_header(path)["runId"]), options.wall)(event.to_json())


def _now(options: SendOptions) -> datetime:
    return datetime.fromtimestamp(options.wall(), UTC)


async def _sleep_or_stop(options: SendOptions, seconds: float, stop: anyio.Event) -> bool:
    """Sleep with the run's ``sleep`` until the next round; True when a stop came first."""
    if seconds <= 0:
        return stop.is_set()
    async with anyio.create_task_group() as group:
        async def sleep() -> None:
            await options.sleep(seconds)
            group.cancel_scope.cancel()

        group.start_soon(sleep)
        await stop.wait()
        group.cancel_scope.cancel()
    return stop.is_set()
