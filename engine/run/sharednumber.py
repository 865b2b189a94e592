"""Other batches on the sender's number, queued ahead of this run's (adv29 F1). RingCentral
processes a number's batches one after another, so what another campaign, tool or journal
queued on the number shortly before a round is processed before anything the round sends.

A scheduled round lists them after its login (``GET .../a2p-sms/batches?from=SENDER&status=
Queued&status=Processing``, the listing's default range: the last 24 hours), and its pacing
counts their messages not processed yet as queued ahead of its own (``Pacing.ahead``). A
batch whose id this journal holds is its own, in the pacing already; one a lost answer of this
journal made, not journaled by id, counts as another's: more queued, never less. A batch
created after the listing is seen at the next round's start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from engine.schedule.pacing import Pacing

QUEUED = ("Queued", "Processing")

Listing = Callable[[Mapping[str, Any]], AsyncIterator[dict[str, Any]]]


async def queued_ahead(batches: Listing, sender: str, mine: frozenset[str]) -> int:
    """Messages not processed yet of the sender's batches the server lists as queued or
    processing whose id is not among ``mine``."""
    ahead = 0
    async for view in batches({"from": sender, "status": list(QUEUED)}):
        size, processed = view.get("batchSize"), view.get("processedCount")
        if view.get("id") in mine or view.get("status") not in QUEUED or type(size) is not int:
            continue
        ahead += max(0, size - (processed if type(processed) is int else 0))
    return ahead


def ahead_counter(pacing: Pacing, wall: Callable[[], float]
                  ) -> Callable[[Any, str, frozenset[str]], Awaitable[None]]:
    """A round's ``count_ahead``: what the listing shows queued ahead, into ``pacing`` at
    this machine's ``wall`` clock (the pacing's)."""
    async def count(client: Any, sender: str, mine: frozenset[str]) -> None:
        pacing.ahead(await queued_ahead(client.batches, sender, mine), wall())

    return count
