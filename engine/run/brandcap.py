"""The daily cap is the sender's, not the run's (issue 22, adv22 F8): carriers cap a brand
per day (T-Mobile) across every campaign and tool, so two scheduled runs from one sender with
``--daily-cap 10`` each must not put 20 on one day.

At each round's start (after its login) the server's own list of the sender's batches
created since the cap day began (``GET .../a2p-sms/batches?from=SENDER&dateFrom=...``) is
read, and the messages of the batches this journal does not hold count against the day's
cap. A batch this journal's own unanswered request may have made (no batch id journaled: the
cap ledger counts that chunk already) is matched as reconciliation matches one (the sender's,
no larger than the chunk, created after the request went out) and not counted again. Listings
lag: the journal's own count stays the floor, and every batch a listing showed is kept for
the day by its id. What the listing cannot show (another account, a batch created after the
read) is not counted: the cap is the sender's as far as the server's listing shows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.core import lifecycle
from engine.core.reconcile import CLOCK_MARGIN, UNCALIBRATED_MARGIN, creation_offset
from engine.run.report import ChunkRecord
from engine.run.scheduling import Quota
from engine.schedule.caps import cap_day_label
from engine.schedule.windows import stamp

Listing = Callable[[Mapping[str, Any]], AsyncIterator[dict[str, Any]]]


# the states of a chunk whose request may have made a batch whose id it never learned
UNANSWERED = frozenset({lifecycle.SUBMITTING, lifecycle.AMBIGUOUS, lifecycle.UNKNOWN})


@dataclass(frozen=True, slots=True)
class Listed:
    """One batch as the server listed it: its messages and creation instant (epoch seconds
    on the server's creation clock; None when unreadable)."""

    size: int
    created: float | None = None


@dataclass(frozen=True, slots=True)
class Journaled:
    """What this journal holds, as a listing is judged against it: its batch ids, and
    (messages, earliest creation instant of a batch it may have made, None: any) of each chunk
    whose request may have made a batch it never learned the id of."""

    ids: frozenset[str] = frozenset()
    unanswered: tuple[tuple[int, float | None], ...] = ()


def journaled(records: Iterable[ChunkRecord]) -> Journaled:
    """A journal's records as ``Journaled``: the floor of an unanswered chunk's batch is its
    last request on the server's creation clock, less reconciliation's margins (calibrated
    from the journal's own batches, else an hour)."""
    kept = list(records)
    offset = creation_offset((r.submitted_at, r.created) for r in kept)
    unanswered = tuple((r.count, _floor(r.submitted_at, offset)) for r in kept
                       if r.batch_id is None and r.state in UNANSWERED)
    return Journaled(frozenset(r.batch_id for r in kept if r.batch_id), unanswered)


def _instant(text: Any) -> float | None:
    """An ISO instant as epoch seconds (None: missing or unreadable)."""
    try:
        return datetime.fromisoformat(text).astimezone(UTC).timestamp() \
            if isinstance(text, str) and text else None
    except ValueError:
        return None


def _floor(submitted: str | None, offset: float | None) -> float | None:
    at = _instant(submitted)
    if at is None:
        return None
    return at + offset - CLOCK_MARGIN if offset is not None else at - UNCALIBRATED_MARGIN


def others_of(listed: Mapping[str, Listed], mine: Journaled) -> tuple[int, int]:
    """(messages, batches) of the listed batches that are not this journal's: not among its
    ids, and not one its unanswered chunks may have made (each chunk takes at most one: the
    same size first, else the largest no larger, created at or after its floor)."""
    rest = {k: b for k, b in listed.items() if k not in mine.ids}
    for messages, floor in mine.unanswered:
        fits = [k for k, b in rest.items() if b.size <= messages and
                (floor is None or b.created is None or b.created >= floor)]
        if fits:
            del rest[max(fits, key=lambda k: (rest[k].size == messages, rest[k].size))]
    return sum(b.size for b in rest.values()), len(rest)


@dataclass
class OtherBatches:
    """The sender's batches of the cap day that this journal does not hold, as the server
    listed them (every batch any listing of that day showed, by id)."""

    day: datetime | None = None  # the cap day's start (UTC) they were counted for
    messages: int = 0
    batches: int = 0
    listed: dict[str, Listed] = field(default_factory=dict)

    def ledger(self) -> list[tuple[datetime, int]]:
        """Their messages as one cap-ledger entry on their day (none: nothing listed)."""
        return [] if self.day is None or not self.messages else [(self.day, self.messages)]

    def take(self, day: datetime, listed: Mapping[str, Listed], mine: Journaled) -> int:
        """A new listing of ``day``, judged against this journal: how many messages more than
        already counted (0 when fewer: a lagging listing still counts what the last showed,
        a batch adopted since is the journal's)."""
        if self.day != day:
            self.day, self.messages, self.batches, self.listed = day, 0, 0, {}
        self.listed.update(listed)
        messages, self.batches = others_of(self.listed, mine)
        more = max(0, messages - self.messages)
        self.messages = messages
        return more


async def listed_batches(batches: Listing, sender: str, since: datetime
                         ) -> dict[str, Listed]:
    """The sender's batches created since ``since``, by id, as the server lists them."""
    found: dict[str, Listed] = {}
    async for view in batches({"from": sender, "dateFrom": stamp(since)}):
        at = _instant(view.get("creationTime"))  # None (unreadable): counted, the safe side
        if at is not None and at < since.timestamp():
            continue
        size, batch_id = view.get("batchSize"), view.get("id")
        if type(size) is int and size > 0 and isinstance(batch_id, str):
            found[batch_id] = Listed(size, at)
    return found


def others_warning(sender: str, cap: int, others: OtherBatches, allowed: int | None) -> str:
    """The warning when other runs' batches count against the day's cap."""
    day = cap_day_label(others.day) if others.day is not None else "today"
    room = "" if allowed is None else f"; this round may send {allowed:,} more"
    return (f"the server lists {others.messages:,} message(s) in {others.batches:,} batch(es) "
            f"from {sender} on the cap day {day} (from 00:00 America/Los_Angeles) that this "
            f"run did not send (other runs, machines or tools): they count against --daily-cap "
            f"{cap:,}, since carriers cap the sender, not the run{room}.")


def counting(cap: int | None, day: datetime, others: OtherBatches, quota: Quota,
             skip: Callable[[], bool]) -> Callable[[Any, str, Journaled],
                                                   Awaitable[str | None]]:
    """The round's hook after its login (``RoundLimits.count_others``): list the sender's
    batches of the cap day starting at ``day``, take what is new off ``quota``, and answer
    the warning (None: no cap, ``skip``, or nothing new)."""
    async def count(client: Any, sender: str, mine: Journaled) -> str | None:
        if cap is None or skip():
            return None
        more = others.take(day, await listed_batches(client.batches, sender, day), mine)
        if not more:
            return None
        if quota.allowed is not None:
            quota.allowed = max(0, quota.allowed - more)
        return others_warning(sender, cap, others, quota.allowed)

    return count
