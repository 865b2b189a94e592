"""Other batches on the sender's number, queued ahead of this run's (adv29 F1). RingCentral
processes a number's batches one after another, so what another campaign, tool or journal
queued on the number shortly before a round is processed before anything the round sends.

A scheduled round lists them after its login (``GET .../a2p-sms/batches?from=SENDER&status=
Queued&status=Processing&dateFrom=``, LOOK_BACK before: the listing's default, the last 24
hours, would miss a slow number's older backlog), and its pacing
counts their messages not processed yet as queued ahead of its own (``Pacing.ahead``). A
batch whose id this journal holds is its own, in the pacing already; one a lost answer of this
journal made, not journaled by id, counts as another's: more queued, never less. A batch
created after the listing is seen at the next round's start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from engine.errors import (
    AmbiguousSendError,
    AuthError,
    AuthServiceError,
    BadBodyError,
    NotSentError,
    ServerError,
)
from engine.schedule.pacing import Pacing

QUEUED = ("Queued", "Processing")
LOOK_BACK = 30 * 86400.0  # seconds back a queued batch is looked for (a backlog of days)

Listing = Callable[[Mapping[str, Any]], AsyncIterator[dict[str, Any]]]


async def queued_ahead(batches: Listing, sender: str, mine: frozenset[str],
                       since: str | None = None) -> int:
    """Messages not processed yet of the sender's batches the server lists as queued or
    processing whose id is not among ``mine``."""
    ahead = 0
    query: dict[str, Any] = {"from": sender, "status": list(QUEUED)}
    if since is not None:  # not the default last 24 hours: a number's queue can be older
        query["dateFrom"] = since
    async for view in batches(query):
        size, processed = view.get("batchSize"), view.get("processedCount")
        if view.get("id") in mine or view.get("status") not in QUEUED or type(size) is not int:
            continue
        ahead += max(0, size - (processed if type(processed) is int else 0))
    return ahead


def ahead_counter(pacing: Pacing, wall: Callable[[], float]
                  ) -> Callable[[Any, str, frozenset[str]], Awaitable[str | None]]:
    """A round's ``count_ahead``: what the listing shows queued ahead, into ``pacing`` at
    this machine's ``wall`` clock (the pacing's). A listing that fails (after the client's
    retries) leaves the queue ahead as last known and says so: the round goes on, as it did
    before the number's queue was listed; a refused login still ends it."""
    async def count(client: Any, sender: str, mine: frozenset[str]) -> str | None:
        since = datetime.fromtimestamp(wall() - LOOK_BACK, UTC).isoformat()
        try:
            found = await queued_ahead(client.batches, sender, mine, since)
        except (AuthError, AuthServiceError):
            raise
        except (ServerError, BadBodyError, NotSentError, AmbiguousSendError) as exc:
            return (f"could not list the batches queued on {sender} by other campaigns or "
                    f"tools ({exc}): this round paces its batches by the queue as last "
                    "known; the next round lists it again")
        pacing.ahead(found, wall())
        return None

    return count
