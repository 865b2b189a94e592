"""The report: its status and totals follow from the chunk records alone."""

from __future__ import annotations

from engine.core import lifecycle
from engine.core.aggregator import Aggregator
from engine.core.rejections import Rejection
from engine.run.report import ChunkRecord, build_report, run_status, totals_of


def chunk(number: int, state: str, **fields: object) -> ChunkRecord:
    made = ChunkRecord(number, number * 10, number * 10 + 9, 10, 300, state=state)
    for name, value in fields.items():
        setattr(made, name, value)
    return made


def test_the_run_status_counts_split_chunks_through_their_halves() -> None:
    """A split chunk is neither success nor failure; the goal depends on --wait."""
    done = [chunk(1, lifecycle.SPLIT), chunk(2, lifecycle.COMPLETED),
            chunk(3, lifecycle.COMPLETED)]
    assert run_status(done, "completed") == "completed"
    half = [*done[:2], chunk(3, lifecycle.FAILED)]
    assert run_status(half, "completed") == "partial"
    assert run_status([chunk(1, lifecycle.ACCEPTED)], "accepted") == "completed"
    assert run_status([chunk(1, lifecycle.ACCEPTED)], "completed") == "failed"


def test_totals_add_up_the_records_and_leave_delivery_unknown_when_not_tracked() -> None:
    """Failed, unknown and adopted chunks are counted; --wait accepted gives null delivery."""
    aggregator = Aggregator()
    aggregator.records = 30
    aggregator.restored(19)  # 19 proven sent (sent is changed only through the aggregator)
    aggregator.add_local(Rejection(5, 6, "x", "LCL-INVALID-NUMBER", "bad"))
    records = [chunk(1, lifecycle.COMPLETED, delivered=9, cost=0.063, adopted=True),
               chunk(2, lifecycle.FAILED), chunk(3, lifecycle.UNKNOWN)]
    totals = totals_of(records, aggregator, "completed")
    assert (totals.failed_chunks, totals.unknown_chunks, totals.adopted_chunks) == (1, 1, 1)
    assert totals.delivered == 9
    assert totals.cost == 0.063
    assert totals_of(records, aggregator, "accepted").delivered is None
    report = build_report(run_id="r", profile="p", source="in.csv", settings={},
                          started="t", records=records, totals=totals, wait="completed",
                          interrupted=False, rejected=aggregator.rejections())
    assert report["status"] == "partial"
    assert report["totals"]["rejectedLocal"] == 1
    assert [b["chunk"] for b in report["batches"]] == [1, 2, 3]
    assert report["rejected"][0]["errorCode"] == "LCL-INVALID-NUMBER"
