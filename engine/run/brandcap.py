"""The daily cap is the sender's, not the run's (issue 22, adv22 F8): carriers cap a brand per day
(T-Mobile) across every campaign and tool, so two scheduled runs from one sender with
``--daily-cap 10`` each must not put 20 on one day.

At each round's start (after its login) the server's own list of the sender's batches created
since the cap day began, and the day before's processed into it (carriers count the day a
message is processed), is read (``GET .../a2p-sms/batches?from=SENDER&dateFrom=`` a day before
the cap day), and the messages of the batches whose id this journal does not hold count against
the day's cap. That includes a batch this journal's own unanswered request made (its chunk is
counted by the cap ledger too): the day is under-filled by it, never over. Matching such a
batch by size and time, as reconciliation does, could hide another run's batch of the same size
while the unanswered request made none (cold29 F2); once reconciliation adopts the batch its id
is the journal's and the count gives it back. Listings lag: the journal's own count stays the
floor, and every batch a listing showed is kept for the day by its id. What the listing cannot
show (another account, a batch created after the read) is not counted: the cap is the sender's
as far as the server's listing shows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.run.report import ChunkRecord
from engine.run.scheduling import Quota
from engine.schedule.caps import cap_day_label
from engine.schedule.windows import stamp

Listing = Callable[[Mapping[str, Any]], AsyncIterator[dict[str, Any]]]
# how far before the cap day a batch processed into it may have been created (a number at
# 1 message a second processes 86,400 a day)
CARRIED_BACK = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Listed:
    """One batch as the server listed it: its messages."""

    size: int


@dataclass(frozen=True, slots=True)
class Journaled:
    """What this journal holds, as a listing is judged against it: its batch ids."""

    ids: frozenset[str] = frozenset()


def journaled(records: Iterable[ChunkRecord]) -> Journaled:
    """A journal's records as ``Journaled``."""
    return Journaled(frozenset(r.batch_id for r in records if r.batch_id))


def _instant(text: Any) -> float | None:
    """An ISO instant as epoch seconds (None: missing or unreadable)."""
    try:
        return datetime.fromisoformat(text).astimezone(UTC).timestamp() \
            if isinstance(text, str) and text else None
    except ValueError:
        return None


def others_of(listed: Mapping[str, Listed], mine: Journaled) -> tuple[int, int]:
    """(messages, batches) of the listed batches whose id this journal does not hold."""
    rest = [b.size for k, b in listed.items() if k not in mine.ids]
    return sum(rest), len(rest)


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
    """The sender's batches of the cap day starting ``since``, by id, as the server lists
    them: created since then, or created the day before and processed into it (not completed
    yet, or last modified since: carriers count the day a message is processed), each with
    its whole size (some of it may have gone the day before: the careful side)."""
    found: dict[str, Listed] = {}
    day = since.timestamp()
    listing = {"from": sender, "dateFrom": stamp(since - CARRIED_BACK)}
    async for view in batches(listing):
        at = _instant(view.get("creationTime"))  # None (unreadable): counted, the safe side
        if at is not None and at < day and not _carried(view, day):
            continue
        size, batch_id = view.get("batchSize"), view.get("id")
        if type(size) is int and size > 0 and isinstance(batch_id, str):
            found[batch_id] = Listed(size)
    return found


def _carried(view: Mapping[str, Any], day: float) -> bool:
    """A batch created before the cap day that the server processes into it: not completed,
    or last modified since the day began."""
    modified = _instant(view.get("lastModifiedTime"))
    return view.get("status") != "Completed" or modified is None or modified >= day


def others_warning(sender: str, cap: int, others: OtherBatches, allowed: int | None) -> str:
    """The warning when other runs' batches count against the day's cap."""
    day = cap_day_label(others.day) if others.day is not None else "today"
    room = "" if allowed is None else f"; this round may send {allowed:,} more"
    return (f"the server lists {others.messages:,} message(s) in {others.batches:,} batch(es) "
            f"from {sender} on the cap day {day} (from 00:00 America/Los_Angeles) whose id "
            f"this run's journal does not hold (other runs, machines or tools, or a batch of "
            f"this run whose answer was lost): they count against --daily-cap {cap:,}, since "
            f"carriers cap the sender, not the run{room}.")


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
