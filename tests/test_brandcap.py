"""The sender's other batches of the cap day (adv22 F8), without a server: the listing's
batches not in this journal, created since the day began, count; a lagging listing that
shows fewer never gives the day back; this journal's own unanswered request's batch is not
counted as another run's (cold22c M1)."""

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
    """Of four listed batches: this journal's and yesterday's are left out; the query names
    the sender and the day's start."""
    asked: list[Mapping[str, Any]] = []
    views = [{"id": "mine", "batchSize": 7, "creationTime": "2026-11-20T15:00:00Z"},
             {"id": "old", "batchSize": 5, "creationTime": "2026-11-20T07:59:59Z"},
             {"id": "x", "batchSize": 3, "creationTime": "2026-11-20T09:00:00Z"},
             {"id": "y", "batchSize": 4, "creationTime": "2026-11-20T10:00:00Z"}]
    listed = await listed_batches(listing(views, asked), "+16505550100", DAY)
    assert others_of(listed, Journaled(frozenset({"mine"}))) == (7, 2)
    assert asked == [{"from": "+16505550100", "dateFrom": "2026-11-20T08:00:00Z"}]


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


REQUEST = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def unanswered(count: int, at: datetime = REQUEST) -> ChunkRecord:
    """A chunk whose POST went out at ``at`` and whose answer was lost: no batch id."""
    return ChunkRecord(number=2, first=0, last=count - 1, count=count, bytes=100,
                       state=lifecycle.AMBIGUOUS, submitted_at=at.isoformat())


def test_this_run_s_unanswered_request_s_batch_is_not_another_run_s() -> None:
    """The listing shows the batch a lost answer made (the journal has no id for it, the cap
    ledger counts its chunk already): it is matched by size and creation time, and only the
    batch no chunk of the journal could have made counts as another run's."""
    answered = ChunkRecord(number=1, first=0, last=9, count=10, bytes=100,
                           state=lifecycle.ACCEPTED, batch_id="b1",
                           submitted_at=(REQUEST - timedelta(minutes=5)).isoformat(),
                           created=(REQUEST - timedelta(minutes=5, seconds=-1)).isoformat())
    mine = journaled([answered, unanswered(6)])
    assert mine.ids == frozenset({"b1"})
    at = REQUEST.timestamp()
    listed = {"b1": Listed(10, at - 299), "lost": Listed(6, at + 1),
              "theirs": Listed(6, at + 2), "before": Listed(6, at - 600)}
    # one of the two same-size batches after the request is taken for ours; the one created
    # ten minutes before it cannot be (the journal calibrates the creation clock)
    assert others_of(listed, mine) == (12, 2)
    assert others_of({"lost": Listed(6, at + 1)}, mine) == (0, 0)
    assert others_of({"big": Listed(7, at + 1)}, mine) == (7, 1)  # larger than the chunk


async def test_the_warning_does_not_blame_other_runs_for_this_run_s_own_batch() -> None:
    """A round whose listing shows only the batch of its own unanswered request takes
    nothing off the quota and warns of nothing."""
    views = [{"id": "lost", "batchSize": 6,
              "creationTime": (REQUEST + timedelta(seconds=1)).isoformat()}]

    class Client:
        batches = staticmethod(listing(views, []))

    quota = Quota(100)
    count = counting(100, DAY, OtherBatches(), quota, lambda: False)
    assert await count(Client(), "+16505550100", journaled([unanswered(6)])) is None
    assert quota.allowed == 100
    said = await count(Client(), "+16505550100", Journaled())  # not ours: another run's
    assert said is not None
    assert "other runs" in said
    assert quota.allowed == 94
