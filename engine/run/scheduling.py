"""A scheduled send's limits (issue 22): which recipients a round may send (their window is
open: ``Eligible``), how many (the day's cap: ``Quota``), until when (the deadline). The cap ledger
read from the journal is engine/run/capledger.py; the loop of rounds is engine/run/rounds.py.

A recipient a round leaves out is neither rejected nor settled: its position is taken out of
the block (as ``Gate.drop`` does), so a later round, a resume of the same journal, reads it
again and sends it when its window opens.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.batching.chunker import Chunk
from engine.core.aggregator import Aggregator, NoSpill
from engine.core.holdings import Holdings
from engine.errors import ConfigError, UsageError
from engine.reading import Block, ReadOptions
from engine.run.zonekeys import Keys as Keys  # re-exported: the rounds and tests import it here
from engine.schedule import statetable
from engine.schedule.caps import NO_CAP, check_daily_cap
from engine.schedule.pacing import Pacing
from engine.schedule.rules import OFF, QuietHours, parse_quiet_hours
from engine.schedule.timing import Timing, check_timing, parse_instant
from engine.schedule.windows import WindowKey, stamp
from engine.schedule.zones import Placer, check_zone

if TYPE_CHECKING:  # brandcap imports this module
    from engine.run.brandcap import Journaled

DEFAULT_MARGIN = 600.0  # seconds before a window closes that no chunk is POSTed
MAX_MARGIN = 7200.0  # seconds: --window-margin's 120 minutes (engine/cli/scheduleflags.py)
# --exit-when-waiting ends the process when the next round is further away than this
EXIT_WAIT = 300.0
Instant = str | datetime | None


# a library send with a schedule and no journal= (the CLI always writes one): refused before
# any login, since without rounds the schedule would be dropped and everyone texted now
NEEDS_JOURNAL = ("a scheduled send (quiet hours, a daily cap, at or expire_at) needs a "
                 "journal: its rounds are resumes of it, and without one the schedule would "
                 "be lost and everyone texted at once. Pass journal=PATH (a2p send writes one "
                 "beside the report).")


@dataclass(frozen=True, slots=True)
class Scheduling:
    """A send's schedule options, validated: the quiet-hours policy, the closing margin
    (seconds), the daily cap, ``--at``, ``--expire-at`` and the zone column."""

    policy: QuietHours = OFF
    margin: float = DEFAULT_MARGIN
    cap: int | None = None
    at: datetime | None = None
    expire_at: datetime | None = None
    tz_column: str | None = None

    @property
    def active(self) -> bool:
        """False: today's send (no rounds, no schedule in the journal)."""
        return self.policy.quiet or self.cap is not None or self.at is not None or \
            self.expire_at is not None

    @property
    def timing(self) -> Timing:
        return Timing(self.at, self.expire_at)

    def as_header(self) -> dict[str, Any]:
        """The options as the journal keeps them (``schedule`` in its header)."""
        return {"quietHours": str(self.policy), "windowMargin": self.margin,
                "dailyCap": self.cap, "at": None if self.at is None else stamp(self.at),
                "expireAt": None if self.expire_at is None else stamp(self.expire_at),
                "tzColumn": self.tz_column, "rulesVersion": statetable.VERSION}

    @classmethod
    def from_header(cls, data: Mapping[str, Any]) -> Scheduling:
        def instant(key: str) -> datetime | None:
            value = data.get(key)
            return None if value is None else parse_instant(str(value), key)

        return cls(parse_quiet_hours(str(data.get("quietHours", "off"))),
                   float(data.get("windowMargin", DEFAULT_MARGIN)), data.get("dailyCap"),
                   instant("at"), instant("expireAt"), data.get("tzColumn"))


def check_resend_cap(on_ambiguous: str, schedule: Scheduling) -> None:
    """Refuse ``on_ambiguous="resend"`` under a daily cap: resend POSTs an ambiguous chunk
    again without proof that its first attempt created nothing, so the day could carry both
    batches while the cap ledger (engine/run/capledger.py) counts one."""
    if on_ambiguous == "resend" and schedule.cap is not None:
        raise UsageError(f"on_ambiguous resend (--on-ambiguous resend) cannot go with a daily "
                         f"cap (--daily-cap {schedule.cap}): a resend is sent without proof "
                         "that the first attempt created nothing, so a day could carry more "
                         "messages than its cap. Use --on-ambiguous reconcile (the default) "
                         "or fail, or --daily-cap none.")


def _instant(value: Instant, flag: str, now: datetime | None = None) -> datetime | None:
    if isinstance(value, str) and value.strip().lower() == "now":
        if now is None:
            raise ConfigError(flag, "time", "'now' ends a scheduled run on a resume",
                              "Give it with --resume JOURNAL to end that run, or a time "
                              "with its zone for a new run.")
        return now.astimezone(UTC)
    if value is None or isinstance(value, datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ConfigError(flag, "time", f"{value.isoformat()} names no time zone",
                              "Pass an aware datetime (e.g. with tzinfo=UTC).")
        return None if value is None else value.astimezone(UTC)
    return parse_instant(value, flag)


def parse_scheduling(quiet_hours: str | None = None, tz_column: str | None = None,
                     daily_cap: int | str | None = None, at: Instant = None,
                     expire_at: Instant = None, window_margin: float | None = None,
                     now: datetime | None = None) -> Scheduling:
    """The schedule options as ``send`` takes them (None: the default), validated; a
    UsageError (ConfigError) naming the option and the fix otherwise. ``now``: what
    ``--expire-at now`` means (a resume's; None: refused)."""
    policy = parse_quiet_hours(quiet_hours) if quiet_hours is not None else OFF
    margin = DEFAULT_MARGIN if window_margin is None else float(window_margin)
    if not 0 <= margin <= MAX_MARGIN:
        raise ConfigError("window_margin", "seconds", f"{margin:g} seconds is not a margin "
                          "before a window closes",
                          f"Give the seconds, from 0 to {MAX_MARGIN:g} (two hours), e.g. "
                          "window_margin=600 (on the command line: --window-margin 10, in "
                          "minutes).")
    if isinstance(daily_cap, str) and daily_cap.strip().lower() == NO_CAP:
        daily_cap = None  # no cap, not even the registration tier's (engine/run/tiercap.py)
    if daily_cap is not None and (type(daily_cap) is not int):
        raise ConfigError("--daily-cap", "cap", f"{daily_cap!r} is not a whole number",
                          "Give the most messages a day may carry, e.g. --daily-cap 6000, "
                          "or --daily-cap none for no cap.")
    cap = None if daily_cap is None else check_daily_cap(daily_cap)
    start, end = _instant(at, "--at"), _instant(expire_at, "--expire-at", now)
    check_timing(start, end)
    if tz_column is not None and not tz_column.strip():
        raise ConfigError("--tz-column", "column", "the column name is empty",
                          "Name the column holding each recipient's IANA zone, or leave "
                          "the flag out to place recipients by their numbers.")
    return Scheduling(policy, margin, cap, start, end, tz_column)


def resumed_scheduling(given: Scheduling, asked: Mapping[str, Any], header: Mapping[str, Any],
                       journal: str, journaled: datetime | None = None) -> Scheduling:
    """A resume keeps the journal's schedule; a schedule option given again (``asked``: the
    options that were not None, by flag) must say the same, as other changed options are
    refused, but for ``--expire-at`` brought forward (sooner: it ends the run sooner; see
    engine/run/expiry.py). ``journaled``: the expiry a resume journaled before."""
    recorded = Scheduling.from_header(header["schedule"]) if header.get("schedule") else \
        Scheduling()
    if journaled is not None and (recorded.expire_at is None or journaled < recorded.expire_at):
        recorded = replace(recorded, expire_at=journaled)
    mine = {"--quiet-hours": str(recorded.policy), "--tz-column": recorded.tz_column,
            "--daily-cap": recorded.cap, "--at": recorded.at, "--expire-at": recorded.expire_at,
            "--window-margin": recorded.margin}
    theirs = {"--quiet-hours": str(given.policy), "--tz-column": given.tz_column,
              "--daily-cap": given.cap, "--at": given.at, "--expire-at": given.expire_at,
              "--window-margin": given.margin}
    for flag in asked:
        if theirs[flag] == mine[flag]:
            continue
        if flag == "--expire-at" and given.expire_at is not None and recorded.active and \
                (recorded.expire_at is None or given.expire_at < recorded.expire_at):
            recorded = replace(recorded, expire_at=given.expire_at)  # journaled by the rounds
            continue
        if flag == "--expire-at" and not recorded.active:
            raise UsageError(f"--expire-at: the run in {journal} is not scheduled, so nothing "
                             "resumes it but you: to end it, do not resume it. Its "
                             f"recipients not sent: a2p outcomes {journal} --only not-sent.")
        if flag == "--expire-at":
            raise UsageError(
                f"--expire-at {_shown(flag, theirs[flag])}: the run in {journal} expires at "
                f"{_shown(flag, mine[flag])}; a resume may bring its expiry forward (to end it "
                "sooner: --expire-at now), never later: that would send what the run was "
                "told not to. Resume without --expire-at, or with an earlier time; "
                + new_run_advice(journal))
        raise UsageError(
            f"{flag}: the run in {journal} began with {flag} {_shown(flag, mine[flag])}, "
            "and a resume keeps its schedule (the rounds already sent followed it). Resume "
            f"without {flag} (or with the same value); " + new_run_advice(journal))
    return recorded


def new_run_advice(journal: str, scheduled: bool = True) -> str:
    """How to send a run's rest otherwise, without texting anyone twice: end the run first
    (a scheduled one is resumed by its scheduler until it ends), then a new run of what it
    has not sent."""
    end = (f"first end this run (a2p send --resume {journal} --expire-at now) and remove the "
           "cron line or CronJob that resumes it, then " if scheduled else "")
    return (f"to send the rest otherwise, {end}write what the run has not sent (a2p outcomes "
            f"{journal} --only not-sent) and send that as a new run.")


def _shown(flag: str, value: Any) -> str:
    if value is None:
        return "(not given)"
    if flag == "--window-margin":  # kept in seconds, given in minutes on the command line
        return f"{value / 60:g} (minutes; the library's window_margin={value:g} seconds)"
    return stamp(value) if isinstance(value, datetime) else str(value)


def zone_reading(read: ReadOptions, schedule: Scheduling, placer: Placer) -> ReadOptions:
    """How a scheduled send reads its list: each --tz-column cell checked as an IANA zone
    (a bad one: LCL-BAD-TIMEZONE with its line), and under quiet hours each number outside
    +1 that nothing places refused (LCL-NO-TIMEZONE) rather than texted on US hours."""
    column = schedule.tz_column
    if column is not None:
        read = replace(read, tz_column=column,
                       zone_check=partial(check_zone, column=f"--tz-column {column}"))
    if schedule.policy.quiet and not read.north_american_only:
        read = replace(read, unplaced=placer.unknown_zone)
    return read


@dataclass
class Eligible:
    """The blocks without the recipients whose key is not in ``open`` (positions removed,
    not rejected: a later round reads them again)."""

    keys: Keys
    open: frozenset[WindowKey]

    def __call__(self, blocks: Iterable[Block]) -> Iterator[Block]:
        key_of, open_now = self.keys, self.open
        for block in blocks:
            if block.zones is None:
                keep = [k for k, to in enumerate(block.tos) if key_of(to) in open_now]
            else:
                keep = self._by_zone(block)
            if len(keep) == len(block):
                yield block
            elif keep:
                yield block.subset(keep)

    def _by_zone(self, block: Block) -> list[int]:
        """The records of a block with zones to keep; those whose column moves them noted
        (the round may POST them: ``Keys.of_chunk`` judges their chunk by them)."""
        assert block.zones is not None
        keep, key_of, open_now = [], self.keys, self.open
        for k, (to, zone, position) in enumerate(zip(block.tos, block.zones, block.positions,
                                                     strict=True)):
            key = key_of(to, zone)
            if key in open_now:
                keep.append(k)
                if zone is not None and key is not None:
                    key_of.note(to, key, position)
        return keep


@dataclass
class Quota:
    """The blocks up to ``allowed`` recipients in all (the day's cap left): the chunker cuts
    its last chunk at the cap exactly. The rest is read on (so the input check and the
    consent gate see the whole input as a run does) and not passed on."""

    allowed: int | None
    passed: int = 0

    def __call__(self, blocks: Iterable[Block]) -> Iterator[Block]:
        for block in blocks:
            if self.allowed is None:
                yield block
                continue
            room = self.allowed - self.passed
            if room <= 0:
                continue
            taken = block if len(block) <= room else block.subset(list(range(room)))
            self.passed += len(taken)
            yield taken


@dataclass(frozen=True, slots=True)
class RoundLimits:
    """One round's limits: the blocks filter (eligible keys, then after the consent gate the
    quota) and the deadline (epoch seconds; no chunk is POSTed from then on)."""

    eligible: Callable[[Iterable[Block]], Iterator[Block]]
    quota: Callable[[Iterable[Block]], Iterator[Block]]
    deadline: float | None
    schedule_header: dict[str, Any] | None = None  # a fresh run's, for its journal
    report: Callable[[], dict[str, Any]] | None = None  # the report's ``schedule``, at its end
    # why a chunk may not be POSTed now, the note its hold journals (None: it may; a chunk
    # a run before cut: its windows all open, and room for it in the day's cap)
    holds: Callable[[Chunk], str | None] | None = None
    # (code, message) of the warnings the round starts with: a halt that cannot see, a cap
    # taken from the registration tier
    notes: tuple[tuple[str, str], ...] = ()
    # after the round's login (engine/run/servertime.py): None, or a new deadline and the
    # warning why (the server's clock is not the one the limits were judged by)
    on_login: Callable[[Any], tuple[float, str] | None] | None = None
    # then (engine/run/brandcap.py): the sender's other batches of the cap day, as the server
    # lists them, off the quota; (client, sender, what this journal holds) -> a warning
    count_others: Callable[[Any, str, Journaled], Awaitable[str | None]] | None = None
    # the sender's queue on the server: a chunk is POSTed only if processed by the deadline
    pacing: Pacing | None = None
    # the daily cap each day is held to (the pre-flight's "list larger than the tier's day" is
    # moot when it is no more than the tier's figure)
    daily_cap: int | None = None
    # after the login, with a pacing (engine/run/sharednumber.py): the number's batches not
    # this journal's, queued ahead of the round's; (client, sender, this journal's ids)
    count_ahead: Callable[[Any, str, frozenset[str]], Awaitable[str | None]] | None = None


async def login_checks(limits: RoundLimits, client: Any, sender: str, mine: Journaled
                       ) -> tuple[float | None, list[tuple[str, str]]]:
    """A round's checks after its login: the server's clock (a new deadline when the limits
    were judged by another), then the sender's other batches of the day off the quota; the
    (code, message) warnings they give."""
    said: list[tuple[str, str]] = []
    late = None if limits.on_login is None else limits.on_login(client)
    if late is not None:
        said.append(("clock-skew", late[1]))
    counted = None if limits.count_others is None else \
        await limits.count_others(client, sender, mine)
    if counted is not None:
        said.append(("daily-cap", counted))
    ahead = None if limits.count_ahead is None else \
        await limits.count_ahead(client, sender, mine.ids)
    if ahead is not None:
        said.append(("queue-unknown", ahead))
    return (None if late is None else late[0]), said


def count_keys(path: str, read: ReadOptions, keys: Keys, journal: Path | None,
               sources: dict[str, int] | None = None) -> dict[WindowKey, int]:
    """The recipients not settled yet (every valid record of a fresh run; of a journal, the
    records no chunk kept holds and none rejected locally), counted by window key: one pass
    over the input, flat memory. ``sources``: also counted there by zone source."""
    # here: resume and sources read SendOptions, which validates through this module
    from engine.run.journal import read_journal
    from engine.run.resume import restore, without
    from engine.run.sources import read_file_from

    skip = Holdings()
    known: Any = frozenset()
    if journal is not None:
        plan = restore(read_journal(journal), Aggregator(NoSpill()))  # counted, not kept
        skip, known = plan.holdings, plan.known_local
    counts: dict[WindowKey, int] = {}
    with ExitStack() as stack:
        _, blocks = read_file_from(path, read, lambda r: None, None, stack)
        for block in without(blocks, skip) if skip else blocks:
            zones = block.zones if block.zones is not None else [None] * len(block)
            for to, position, zone in zip(block.tos, block.positions, zones, strict=True):
                if position in known:
                    continue
                key = keys(to, zone)
                if key is not None:
                    counts[key] = counts.get(key, 0) + 1
                    if sources is not None:
                        source = keys.source(to, zone)
                        assert source is not None  # placed: it has a key
                        sources[source] = sources.get(source, 0) + 1
    return counts


def note_caught(path: str, read: ReadOptions, keys: Keys,
                sent: Iterable[tuple[datetime, Mapping[str, Any]]]) -> None:
    """``keys.moved`` afresh for a round (its survey before): the recipients whose column
    zone moves them, of the chunks a resume may POST again (in flight, or unknown: ``sent``,
    the journal's chunks that may have been sent), so its admits check judges them by their
    own zones. Reads only those chunks' lines, each from its offset; nothing without a zone
    column or such a chunk. The round's ``Eligible`` notes the rest it passes."""
    keys.moved.clear()
    if read.tz_column is None:
        return
    from engine.run.resume import recovers, within
    from engine.run.sources import read_file_from

    for _, chunk in sent:
        if not recovers(chunk):  # the chunks the resume recovers (capledger.caught's too)
            continue
        entry = dict(chunk)
        with ExitStack() as stack:  # with --dedupe a record is judged by every earlier one
            _, blocks = read_file_from(path, read, lambda r: None,
                                       None if read.dedupe else entry, stack)
            first, last = int(entry["firstIndex"]), int(entry["lastIndex"])
            keys.note_blocks(within(blocks, first, last), first, last)
