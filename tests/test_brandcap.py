"""The sender's other batches of the cap day (adv22 F8), without a server: the listing's
batches not in this journal, created since the day began, count; a lagging listing that
shows fewer never gives the day back; a batch the journal has no id for counts, even when a
lost answer of this run may have made it (the day under-filled, never over: cold29 F2)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.core import lifecycle
from engine.run.brandcap import (
    Journaled,
    Listed,
    OtherBatches,
    counting,
    journaled,
    listed_batches,
    others_of,
)
from engine.run.report import ChunkRecord
from engine.run.scheduling import Quota

DAY = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # 00:00 Pacific


def listing(views: list[dict[str, Any]], asked: list[Mapping[str, Any]]
            ) -> Callable[[Mapping[str, Any]], AsyncIterator[dict[str, Any]]]:
    async def batches(params: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
        asked.append(params)
        for view in views:
            yield view

    return batches


async def test_only_other_runs_batches_of_the_day_count() -> None:
    """Of the listed batches: this journal's and yesterday's done yesterday are left out;
    yesterday's still processing, or completed after the day began, count whole (carriers
    count the day a message is processed); the query names the sender and reaches a day back
    from the day's start."""
    asked: list[Mapping[str, Any]] = []
    views = [{"id": "mine", "batchSize": 7, "creationTime": "2026-11-20T15:00:00Z"},
             {"id": "old", "batchSize": 5, "creationTime": "2026-11-20T07:59:59Z",
              "status": "Completed", "lastModifiedTime": "2026-11-20T07:59:59Z"},
             {"id": "late", "batchSize": 6, "creationTime": "2026-11-20T07:50:00Z",
              "status": "Completed", "lastModifiedTime": "2026-11-20T08:20:00Z"},
             {"id": "queued", "batchSize": 2, "creationTime": "2026-11-20T07:55:00Z",
              "status": "Processing", "lastModifiedTime": "2026-11-20T07:56:00Z"},
             {"id": "x", "batchSize": 3, "creationTime": "2026-11-20T09:00:00Z"},
             {"id": "y", "batchSize": 4, "creationTime": "2026-11-20T10:00:00Z"}]
    listed = await listed_batches(listing(views, asked), "+16505550100", DAY)
    assert others_of(listed, Journaled(frozenset({"mine"}))) == (6 + 2 + 3 + 4, 4)
    assert asked == [{"from": "+16505550100", "dateFrom": "2026-11-19T08:00:00Z"}]


def test_a_lagging_listing_never_gives_the_day_back() -> None:
    """7 listed, then 4 (lag): still 7; then 9: 2 more; a new day starts from none."""
    others = OtherBatches()
    none = Journaled()
    assert others.take(DAY, {"a": Listed(3), "b": Listed(4)}, none) == 7
    assert others.take(DAY, {"b": Listed(4)}, none) == 0
    assert others.ledger() == [(DAY, 7)]
    assert others.take(DAY, {"c": Listed(2)}, none) == 2
    tomorrow = DAY + timedelta(days=1)
    assert others.take(tomorrow, {"d": Listed(1)}, none) == 1
    assert others.ledger() == [(tomorrow, 1)]


def test_a_listed_batch_once_adopted_is_no_longer_another_run_s() -> None:
    """A batch listed as another's that this journal adopts since (its id now journaled)
    leaves the others' count: the day is not under-filled for the rest of it."""
    others = OtherBatches()
    assert others.take(DAY, {"x": Listed(5), "y": Listed(3)}, Journaled()) == 8
    assert others.take(DAY, {}, Journaled(frozenset({"x"}))) == 0
    assert others.ledger() == [(DAY, 3)]


def test_a_batch_without_an_id_in_the_journal_counts_even_when_a_lost_answer_may_be_it(
        ) -> None:
    """A listed batch the journal has no id for counts against the day, even when an
    unanswered request of this journal might have made it: matching by size could hide
    another run's batch while the request made none (the day goes under, never over)."""
    assert journaled([ChunkRecord(number=1, first=0, last=9, count=10, bytes=100,
                                  state=lifecycle.ACCEPTED, batch_id="b1"),
                      ChunkRecord(number=2, first=0, last=5, count=6, bytes=100,
                                  state=lifecycle.AMBIGUOUS)]).ids == frozenset({"b1"})
    mine = Journaled(frozenset({"b1"}))
    assert others_of({"b1": Listed(10), "lost": Listed(6), "theirs": Listed(6)}, mine) == (12, 2)


async def test_the_warning_names_a_lost_answer_of_this_run_as_a_possible_source() -> None:
    """A round whose listing shows a batch the journal has no id for takes it off the quota
    and says it may be another run's or one of this run's whose answer was lost."""
    views = [{"id": "lost", "batchSize": 6, "creationTime": DAY.isoformat()}]

    class Client:
        batches = staticmethod(listing(views, []))

    quota = Quota(100)
    count = counting(100, DAY, OtherBatches(), quota, lambda: False)
    said = await count(Client(), "+16505550100", Journaled())
    assert said is not None
    assert "other runs" in said
    assert "answer was lost" in said
    assert quota.allowed == 94
    assert await count(Client(), "+16505550100", Journaled(frozenset({"lost"}))) is None
