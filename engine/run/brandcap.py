"""The daily cap is the sender's, not the run's (issue 22, adv22 F8): carriers cap a brand
per day (T-Mobile) across every campaign and tool, so two scheduled runs from one sender with
``--daily-cap 10`` each must not put 20 on one day.

At each round's start (after its login) the server's own list of the sender's batches
created since the cap day began (``GET .../a2p-sms/batches?from=SENDER&dateFrom=...``) is
read, and the messages of the batches this journal does not hold count against the day's
cap. Listings lag: the journal's own count stays the floor, and what a listing showed is
kept for the day (the most it has shown). What the listing cannot show (another account, a
batch created after the read) is not counted: the cap is the sender's as far as the server's
listing shows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.run.scheduling import Quota
from engine.schedule.caps import cap_day_label
from engine.schedule.windows import stamp

Listing = Callable[[Mapping[str, Any]], AsyncIterator[dict[str, Any]]]


@dataclass
class OtherBatches:
    """The sender's batches of the cap day that this journal does not hold, as the server
    listed them (the most a listing showed that day)."""

    day: datetime | None = None  # the cap day's start (UTC) they were counted for
    messages: int = 0
    batches: int = 0

    def ledger(self) -> list[tuple[datetime, int]]:
        """Their messages as one cap-ledger entry on their day (none: nothing listed)."""
        return [] if self.day is None or not self.messages else [(self.day, self.messages)]

    def take(self, day: datetime, messages: int, batches: int) -> int:
        """A new listing of ``day``: how many messages more than already counted (0 when a
        lagging listing shows fewer)."""
        if self.day != day:
            self.day, self.messages, self.batches = day, 0, 0
        more = max(0, messages - self.messages)
        if more:
            self.messages, self.batches = messages, batches
        return more


async def listed_others(batches: Listing, sender: str, since: datetime,
                        mine: Collection[str]) -> tuple[int, int]:
    """(messages, batches) of the sender's batches created since ``since`` that are not in
    ``mine`` (this journal's batch ids), as the server lists them."""
    messages = count = 0
    async for view in batches({"from": sender, "dateFrom": stamp(since)}):
        if view.get("id") in mine:
            continue
        created = view.get("creationTime")
        if isinstance(created, str):
            try:
                if datetime.fromisoformat(created).astimezone(UTC) < since:
                    continue
            except ValueError:
                pass  # unreadable: counted, the safe side
        size = view.get("batchSize")
        if type(size) is int and size > 0:
            messages += size
            count += 1
    return messages, count


def others_warning(sender: str, cap: int, others: OtherBatches, allowed: int | None) -> str:
    """The warning when other runs' batches count against the day's cap."""
    day = cap_day_label(others.day) if others.day is not None else "today"
    room = "" if allowed is None else f"; this round may send {allowed:,} more"
    return (f"the server lists {others.messages:,} message(s) in {others.batches:,} batch(es) "
            f"from {sender} on the cap day {day} (from 00:00 America/Los_Angeles) that this "
            f"run did not send (other runs, machines or tools): they count against --daily-cap "
            f"{cap:,}, since carriers cap the sender, not the run{room}.")


def counting(cap: int | None, day: datetime, others: OtherBatches, quota: Quota,
             skip: Callable[[], bool]) -> Callable[[Any, str, frozenset[str]],
                                                   Awaitable[str | None]]:
    """The round's hook after its login (``RoundLimits.count_others``): list the sender's
    batches of the cap day starting at ``day``, take what is new off ``quota``, and answer
    the warning (None: no cap, ``skip``, or nothing new)."""
    async def count(client: Any, sender: str, mine: frozenset[str]) -> str | None:
        if cap is None or skip():
            return None
        more = others.take(day, *await listed_others(client.batches, sender, day, mine))
        if not more:
            return None
        if quota.allowed is not None:
            quota.allowed = max(0, quota.allowed - more)
        return others_warning(sender, cap, others, quota.allowed)

    return count
