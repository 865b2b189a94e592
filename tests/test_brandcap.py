"""The sender's other batches of the cap day (adv22 F8), without a server: the listing's
batches not in this journal, created since the day began, count; a lagging listing that
shows fewer never gives the day back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.run.brandcap import OtherBatches, listed_others

DAY = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # 00:00 Pacific


def listing(views: list[dict[str, Any]], asked: list[Mapping[str, Any]]
            ) -> Callable[[Mapping[str, Any]], AsyncIterator[dict[str, Any]]]:
    async def batches(params: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
        asked.append(params)
        for view in views:
            yield view

    return batches


async def test_only_other_runs_batches_of_the_day_count() -> None:
    """Of four listed batches: this journal's and yesterday's are left out; the query names
    the sender and the day's start."""
    asked: list[Mapping[str, Any]] = []
    views = [{"id": "mine", "batchSize": 7, "creationTime": "2026-11-20T15:00:00Z"},
             {"id": "old", "batchSize": 5, "creationTime": "2026-11-20T07:59:59Z"},
             {"id": "x", "batchSize": 3, "creationTime": "2026-11-20T09:00:00Z"},
             {"id": "y", "batchSize": 4, "creationTime": "2026-11-20T10:00:00Z"}]
    counted = await listed_others(listing(views, asked), "+16505550100", DAY,
                                  frozenset({"mine"}))
    assert counted == (7, 2)
    assert asked == [{"from": "+16505550100", "dateFrom": "2026-11-20T08:00:00Z"}]


def test_a_lagging_listing_never_gives_the_day_back() -> None:
    """7 listed, then 4 (lag): still 7; then 9: 2 more; a new day starts from none."""
    others = OtherBatches()
    assert others.take(DAY, 7, 2) == 7
    assert others.take(DAY, 4, 1) == 0
    assert others.ledger() == [(DAY, 7)]
    assert others.take(DAY, 9, 3) == 2
    tomorrow = DAY + timedelta(days=1)
    assert others.take(tomorrow, 1, 1) == 1
    assert others.ledger() == [(tomorrow, 1)]
