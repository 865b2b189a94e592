"""What a scheduled send tells of the recipients it has left (issue 22 item 7): the report's
``schedule`` at the end of a round, the ``waiting`` and ``expired`` events between rounds, the
progress line, and the note of a chunk a round holds (``holds``). The loop of rounds
(engine/run/rounds.py) surveys; this module words it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from engine.batching.chunker import Chunk
from engine.run.events import Event, Expired, Stamper, Waiting
from engine.run.expiry import expiry_noted, record_expiry
from engine.run.journal import read_header
from engine.run.options import SendOptions
from engine.run.scheduling import Keys, Scheduling
from engine.schedule.caps import CAP_ZONE
from engine.schedule.fates import RULES, Fate, KeyState, fate_of, reopening, states_of
from engine.schedule.forecast import zones_label
from engine.schedule.placement import ZoneSource
from engine.schedule.waves import Status
from engine.schedule.windows import SEND_LEAD, WindowKey, stamp, zone_info

# how a recipient's zones were found (engine/schedule/placement.py ZoneSource)
SOURCES = get_args(ZoneSource)

if TYPE_CHECKING:
    from engine.run.rounds import Outlook


def report_of(look: Outlook, schedule: Scheduling) -> dict[str, Any]:
    """The report's ``schedule``: the options, what is left and why, when the next round
    is; its ``totals`` go into the report's totals (deferred, expired, dailyCap). Each key's
    recipients get their key's fate (engine/schedule/fates.py): the totals and ``byRule``
    count them so, and ``byZone`` by zone."""
    nxt = look.next_round(schedule.at)
    kinds: dict[str, int] = {"deferred": 0, "expired": 0, "daily-cap": 0, "no-window": 0}
    rules: dict[str, int] = dict.fromkeys(RULES, 0)
    for fate, n in fates_of(look, schedule):
        kinds[fate.kind] += n
        rules[fate.rule] += n
    return {**schedule.as_header(), "remaining": look.remaining,
            "state": "done" if not look.sendable else
            "expired" if look.decision == "expired" else "waiting",
            "nextRound": None if nxt is None else stamp(nxt[0]),
            "waitingFor": None if nxt is None else nxt[1],
            "byZone": by_zone(look.counts),
            "byRule": rules,
            "byZoneSource": {source: look.sources.get(source, 0) for source in SOURCES},
            "totals": {"deferred": kinds["deferred"], "expired": kinds["expired"],
                       "dailyCap": kinds["daily-cap"], "noWindow": kinds["no-window"]}}


def no_window_notes(look: Outlook, schedule: Scheduling) -> tuple[tuple[str, str], ...]:
    """The warning that some recipients' window never opens under the policy (fate
    no-window): how many, where, and why; none when every key has a window."""
    stuck = sorted((key, n) for key, n in look.counts.items() if key in look.never)
    if not stuck:
        return ()
    where = "; ".join(f"{n:,} in {zones_label(key.zones) or 'any zone'} (rules "
                      f"{key.rules or 'tcpa'})" for key, n in stuck[:5])
    more = f"; and {len(stuck) - 5} more group(s)" if len(stuck) > 5 else ""
    total = sum(n for _, n in stuck)
    return (("no-window",
             f"{total:,} recipient(s) have no window under --quiet-hours {schedule.policy} "
             f"with a {schedule.margin / 60:g}-minute margin: {where}{more}. They will not be "
             "sent (fate no-window in the report and a2p outcomes); the run ends when only "
             "they are left. To reach them, send them as a new run with other --quiet-hours."),)


def fates_of(look: Outlook, schedule: Scheduling) -> list[tuple[Fate, int]]:
    """Each key's fate at the outlook's instant, with its count of recipients left."""
    states = states_of(look.status, look.never)
    margin = timedelta(seconds=schedule.margin)
    return [(reopening(fate_of(states.get(key, KeyState("closed")), look.decision, look.day,
                               look.halt, schedule.at, look.now),
                       key, schedule.policy, margin, schedule.expire_at, SEND_LEAD), n)
            for key, n in look.counts.items()]


def by_zone(counts: dict[WindowKey, int]) -> dict[str, int]:
    """The recipients left by zone, labelled as ``a2p plan`` labels them (a key of several
    zones: ``America/Chicago+America/New_York``; the every-zone fallback: ``unknown (every
    US zone)``; no zone, a send without quiet hours: ``any``)."""
    out: dict[str, int] = {}
    for key, n in counts.items():
        name = zones_label(key.zones) or "any"
        out[name] = out.get(name, 0) + n
    return out


# what a run waits for, as the progress line says it
WAITS_FOR = {"quiet-hours": "the next recipients' window to open",
             "daily-cap": "the next day of the daily cap",
             "carrier-cap": "the next day (carriers failed today's messages over their caps)",
             "processing": "the server to process what it has queued (no room for more "
                           "before the round's deadline)",
             "at": "--at", "expire-at": "--expire-at"}


def waiting_line(until: datetime, reason: str, remaining: int, zone: str | None = None,
                 here: datetime | None = None) -> str:
    """The progress line: what the run waits for and until when, on the clock of the
    recipients it waits for (``zone``: the quiet hours' opening zone; the cap day's for a
    cap; none for --at and --expire-at, which are instants), and in UTC. ``here``: the same
    instant on this machine's clock, added when it reads differently from both (a laptop
    in another zone; a server on UTC adds nothing)."""
    what = WAITS_FOR.get(reason, reason)
    if reason in ("daily-cap", "carrier-cap"):
        zone = str(CAP_ZONE)
    utc = f"UTC {until:%Y-%m-%d %H:%M}"
    if zone is None:
        when = f"until {until:%a} {until:%Y-%m-%d %H:%M} UTC"
    else:
        there = until.astimezone(zone_info(zone))
        when = f"until {there:%a %Y-%m-%d %H:%M %Z} {zone} ({utc})"
    if here is not None and here.utcoffset() != timedelta(0) and (
            zone is None or here.utcoffset() != until.astimezone(zone_info(zone)).utcoffset()):
        when += f"; {here:%a %H:%M %Z} on this machine"
    return f"waiting for {what} {when}; {remaining:,} recipients left"


def opening_zone(status: Status | None, counts: dict[WindowKey, int],
                 until: datetime) -> str | None:
    """The zone whose opening the run waits for: of the keys opening at ``until``, the one
    with the most recipients left, and of its zones the one whose window opens then (the
    earliest on the clock: a key spanning Central and Eastern opens at 08:00 Central, 09:00
    Eastern). None when no key opens then (a look again in a day)."""
    opening = [key for key, at in (status.waiting if status is not None else ()) if at == until
               and key.zones]
    if not opening:
        return None
    key = max(opening, key=lambda k: (counts.get(k, 0), k.zones))
    return min(key.zones, key=lambda z: (until.astimezone(zone_info(z)).time(), z))


def waiting_event(look: Outlook, nxt: tuple[datetime, str], path: Path,
                  options: SendOptions) -> dict[str, Any]:
    """The ``waiting`` event: the next round's time and why, and what is left."""
    seconds = max(0.0, (nxt[0] - look.now).total_seconds())
    zone = opening_zone(look.status, look.counts, nxt[0]) if nxt[1] == "quiet-hours" else None
    line = waiting_line(nxt[0], nxt[1], look.remaining, zone, nxt[0].astimezone())
    return stamped(Waiting(stamp(nxt[0]), seconds, nxt[1], line, look.remaining,
                           by_zone(look.counts)), path, options)


def expired_event(look: Outlook, schedule: Scheduling, path: Path,
                  options: SendOptions) -> dict[str, Any]:
    """The ``expired`` event: --expire-at passed with recipients left."""
    return stamped(Expired(look.remaining, stamp(schedule.expire_at or look.now),
                           by_zone(look.counts)), path, options)


async def tell_expired(look: Outlook, schedule: Scheduling, path: Path,
                       options: SendOptions) -> None:
    """The ``expired`` event, once per run: then journaled (the ``expired`` entry,
    engine/run/expiry.py: the instant by the run's clock, the floor no later process judges
    the run before), so the cron ticks after it, which end at once, do not tell it again.
    Told before it is journaled: a kill between the two tells it twice, never not."""
    if expiry_noted(path):
        return
    await options.emit(expired_event(look, schedule, path, options))
    record_expiry(path, look.now, schedule.expire_at, look.remaining)


def stamped(event: Event, path: Path, options: SendOptions) -> dict[str, Any]:
    """An event of the loop itself, with the time and the run's id as a round's carry."""
    return Stamper(str(read_header(path)["runId"]), options.wall)(event.to_json())


def placed(event: dict[str, Any], keys: Keys) -> dict[str, Any]:
    """A ``rejected`` event of a scheduled send with its recipient's zone and zone source
    (a number the reader took: a raw value it refused is not placed), by its --tz-column
    zone when the reader had one (the event's ``zone``), else by its number."""
    to = event.get("to")
    if event["event"] != "rejected" or not isinstance(to, str) or not is_e164(to):
        return event
    column = event.get("zone")
    where = keys.placement(to, column if isinstance(column, str) else None)
    if where is None:
        return event
    return {**event, "zone": zones_label(where.zones), "zoneSource": where.source}


def is_e164(to: str | None) -> bool:
    """A number the reader accepted (``+`` and digits): a raw value it refused is not
    placed."""
    return to is not None and len(to) > 2 and to[0] == "+" and to[1:].isdigit()


CAP_HOLD = ("held: the day's cap (--daily-cap) has no room left for it; a round of the next "
            "cap day (00:00 America/Los_Angeles) sends it")


def holds(keys: Keys, look: Outlook) -> Callable[[Chunk], str | None]:
    """Why a chunk may not be POSTed now (None: it may), as its hold's note says: a caught
    chunk the day's cap has no room for, or one of its recipients' windows closed (by their
    own zones: ``Keys.of_chunk``) or no key open at all, and why."""
    open_keys, share, closed = look.open_keys, look.share, _closed(look)

    def why(chunk: Chunk) -> str | None:
        if not share.admits(chunk.number):
            return CAP_HOLD
        if not all(key in open_keys for key in keys.of_chunk(chunk)):
            return closed
        return None

    return why


def _closed(look: Outlook) -> str:
    """Why a key is not open at ``look``: the day ended by carriers or the cap, --at not
    reached, --expire-at passed, or its window closed (quiet hours)."""
    if look.halt is not None:
        return ("held: carriers' daily-cap failures (SMS-CAR-450/451/452) ended the day's "
                "sending; a round of the next cap day sends it")
    if look.day.full:
        return CAP_HOLD
    if look.decision == "wait":
        return "held: --at is not reached yet; the first round after it sends it"
    if look.decision == "expired":
        return "held: --expire-at passed before its request went out"
    return "held: its recipients' window is closed now (quiet hours); a later round sends it"
