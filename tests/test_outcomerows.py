"""The pure half of ``a2p outcomes``: spans from the journal, input order, matching,
classification, filters and totals, without a server."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.rejections import Rejection
from engine.reading import Block
from engine.results.rows import (
    Matcher,
    Totals,
    Unsent,
    classify,
    estimate,
    keep,
    row_of,
    store_needed,
    stored,
    wanted,
)
from engine.results.walk import Record, Span, in_order, pieces_of, spans_of

BATCH = "b-1"


def span(**changes: Any) -> Span:
    base: dict[str, Any] = {"number": 1, "first": 0, "last": 9, "state": "completed",
                            "batch_id": BATCH, "size": 10, "offset": 3, "line": 2,
                            "retryable": False, "note": ""}
    return Span(**(base | changes))


def message(to: str, status: str = "Delivered", code: str | None = None,
            batch: str = BATCH, ident: int = 1) -> dict[str, Any]:
    found: dict[str, Any] = {"id": ident, "batchId": batch, "to": [to], "messageStatus": status,
                             "segmentCount": 1, "cost": 0.007}
    if code:
        found["errorCode"] = code
    return found


def test_classify_maps_statuses_to_outcomes() -> None:
    """Each messageStatus becomes its outcome; only a temporary failure is retryable."""
    assert classify(message("+1", "Delivered"))[0] == "delivered"
    assert classify(message("+1", "Sent"))[0] == "sent-no-receipt"
    assert classify(message("+1", "Queued"))[0] == "queued"
    assert classify(message("+1", "DeliveryFailed", "SMS-CAR-411"))[::3] == \
        ("delivery-failed", False)
    assert classify(message("+1", "SendingFailed", "SMS-RC-503"))[::3] == \
        ("sending-failed", True)
    assert classify(message("+1", "Weird"))[0] == "unknown"


def test_an_opt_out_failure_is_opted_out_and_never_retryable() -> None:
    """SMS-RC-413 (RingCentral) and SMS-CAR-413 (the carrier) failures are the opted-out
    outcome, with their code, and not retryable; --only opted-out and the failed group keep
    them, --only retryable does not."""
    for status, code in (("SendingFailed", "SMS-RC-413"), ("DeliveryFailed", "SMS-CAR-413")):
        outcome, found, _, retry = classify(message("+1", status, code))
        assert (outcome, found, retry) == ("opted-out", code, False)
    matcher = Matcher(BATCH)
    matcher.add([message("+1", "SendingFailed", "SMS-RC-413")])
    row = row_of(Record(0, 2, "+1", None), span(), {}, matcher.take("+1"))
    assert (row.outcome, row.errorCode, row.retryable) == ("opted-out", "SMS-RC-413", False)
    assert keep(row, wanted(["opted-out"]))
    assert keep(row, wanted(["failed"]))
    assert not keep(row, wanted(["retryable"]))
    assert not keep(row, wanted(["sending-failed"]))


def test_status_counts_split_opt_outs_from_other_failures() -> None:
    """A batch skipped by its status counts adds its opt-out codes to opted-out, the rest of
    its failures to delivery-failed and sending-failed; --only opted-out reads a batch only
    when an opt-out code was counted."""
    counts = {"delivered": {"count": 5, "cost": 0.035},
              "deliveryFailed": {"count": 3, "cost": 0.021, "errorCodeCounts":
                                 {"SMS-CAR-413": 1, "SMS-CAR-411": 2}},
              "sendingFailed": {"count": 2, "cost": 0.0, "errorCodeCounts":
                                {"SMS-RC-413": 2}}}
    totals = Totals()
    totals.add_counts(counts)
    data = totals.as_json()
    assert (data["rows"], data["delivered"], data["delivery-failed"], data["sending-failed"],
            data["opted-out"]) == (10, 5, 2, 0, 3)
    assert Totals.from_json(data).as_json() == data
    only = wanted(["opted-out"])
    assert store_needed(only, counts)
    assert not store_needed(only, {"deliveryFailed": {"count": 2, "errorCodeCounts":
                                                      {"SMS-CAR-411": 2}}})
    assert not store_needed(wanted(["sending-failed"]), {"sendingFailed": {
        "count": 2, "errorCodeCounts": {"SMS-RC-413": 2}}})


def test_duplicates_in_one_chunk_are_matched_in_store_order() -> None:
    """A number twice in a chunk takes the store's records for it in the order listed, even
    when the store lists the batch out of input order."""
    matcher = Matcher(BATCH)
    matcher.add([message("+2", ident=5), message("+1", "Sent", ident=7),
                 message("+1", "DeliveryFailed", "SMS-CAR-411", ident=9)])
    first, second = matcher.take("+1"), matcher.take("+1")
    assert first is not None
    assert second is not None
    assert (first.message_id, second.message_id) == ("7", "9")
    assert matcher.take("+1") is None
    assert matcher.held == 1


def test_records_of_another_batch_are_never_matched() -> None:
    """A record the store lists under another batch id is counted, never used."""
    matcher = Matcher(BATCH)
    matcher.add([message("+1", batch="other")])
    assert matcher.take("+1") is None
    assert matcher.foreign == 1


def blocks_around(bad: list[bool], size: int, reject: Callable[[int], None]
                  ) -> Iterator[Block]:
    """Blocks of ``size`` accepted records as a reader makes them, ``reject(position)``
    called for each bad row as it is read."""
    block = Block()
    for position, is_bad in enumerate(bad):
        if is_bad:
            reject(position)
            continue
        block.tos.append(f"+1{position}")
        assert isinstance(block.positions, list)
        block.positions.append(position)
        if len(block) == size:
            yield block
            block = Block()
    if len(block):
        yield block


@given(st.lists(st.booleans(), max_size=300), st.integers(1, 50))
def test_in_order_merges_rejections_back_into_input_order(bad: list[bool], size: int) -> None:
    """Accepted records and local rejections come out once each, by input position, however
    the reader interleaved them with its blocks."""
    rejected: list[Rejection] = []
    records = list(in_order(blocks_around(
        bad, size, lambda k: rejected.append(Rejection(k, k + 2, "x", "LCL", "bad"))), rejected))
    assert [r.position for r in records] == list(range(len(bad)))
    assert [r.rejection is not None for r in records] == bad


def test_row_of_covers_every_way_a_record_ends() -> None:
    """Local and server rejections, store outcomes, missing messages, failed, unknown and
    never-sent chunks each give their outcome."""
    local = {4: Rejection(4, 6, "bad", "LCL-INVALID-NUMBER", "not a number")}
    record = Record(3, 5, "+1", None)
    matcher = Matcher(BATCH)
    matcher.add([message("+1", "SendingFailed", "SMS-RC-503")])
    assert row_of(record, span(), local, matcher.take("+1")).outcome == "sending-failed"
    assert row_of(Record(4, 6, "bad", None), span(), local).outcome == "rejected-local"
    refused = Rejection(3, 5, "+1", "SMS-RC-410", "invalid", BATCH, "server")
    assert row_of(record, span(), local, server=refused)[3:5] == ("rejected-server",
                                                                  "SMS-RC-410")
    assert row_of(record, span(), local).outcome == "unknown"
    assert row_of(record, None, local)[3:7:3] == ("not-sent", True)
    failed = span(state="failed", batch_id=None, retryable=True, note="HTTP 503")
    assert row_of(record, failed, local)[3:7:3] == ("not-sent", True)
    assert row_of(record, span(state="unknown"), local)[3:7:3] == ("unknown", False)


def test_a_held_chunk_of_a_scheduled_send_is_told_as_the_report_tells_it() -> None:
    """A chunk a round held (its window closed before its POST) or that failed certainly
    unsent is cut again by the next round: its records get the scheduled fate, not
    retryable (a user sending the retryable rows would text them twice); today's send
    keeps "not sent, retryable"."""
    record = Record(3, 5, "+12125550100", None)
    fate = Unsent("deferred: outside its window (quiet hours); next opening ...", "deferred",
                  "2026-11-21T13:00:00Z")
    held = span(state="planned", batch_id=None, retryable=True,
                note="held: its recipients' window is closed now (quiet hours)")
    row = row_of(record, held, {}, unsent=fate)
    assert (row.outcome, row.retryable, row.fate, row.nextOpening) == (
        "not-sent", False, "deferred", "2026-11-21T13:00:00Z")
    assert row.description.startswith("deferred: ")
    failed = span(state="failed", batch_id=None, retryable=True, note="HTTP 503")
    assert row_of(record, failed, {}, unsent=fate)[3:7:3] == ("not-sent", False)
    assert row_of(record, held, {})[3:7:3] == ("not-sent", True)
    gone = span(state="failed", batch_id=None, retryable=False, note="HTTP 400")
    assert row_of(record, gone, {}, unsent=fate).fate is None  # failed for good: not a fate


def test_spans_leave_out_split_chunks_and_sort_by_position() -> None:
    """A chunk split after a 413 is covered by its halves; spans come in input order."""
    chunks = [
        {"chunk": 3, "firstIndex": 5, "lastIndex": 9, "status": "completed", "batchId": "b3",
         "batchSize": 5, "offset": 50, "line": 7},
        {"chunk": 1, "firstIndex": 0, "lastIndex": 9, "status": "split"},
        {"chunk": 2, "firstIndex": 0, "lastIndex": 4, "status": "failed",
         "error": {"errorCode": "NOT-SENT", "message": "no network"}},
    ]
    spans = spans_of(chunks)
    assert [s.number for s in spans] == [2, 3]
    assert spans[0].retryable
    assert spans[1].accepted


def test_only_filters_rows_and_spares_store_reads() -> None:
    """--only keeps the rows it names; a batch whose counts show none of them is not read."""
    only = wanted(["failed"])
    row = row_of(Record(1, 2, "+1", None), None, {})
    assert only is not None
    assert keep(row, only)
    assert not keep(row._replace(outcome="delivered"), only)
    assert keep(row._replace(outcome="delivered", retryable=True), wanted(["retryable"]))
    nothing_failed = {"delivered": {"count": 5}, "deliveryFailed": {"count": 0},
                      "sendingFailed": {"count": 0}}
    assert not store_needed(only, nothing_failed)
    assert store_needed(only, {"deliveryFailed": {"count": 1}})
    retry = wanted(["retryable"])
    assert not store_needed(retry, {"deliveryFailed": {"count": 3, "errorCodeCounts":
                                                       {"SMS-CAR-413": 3}}})
    assert store_needed(retry, {"sendingFailed": {"count": 1, "errorCodeCounts":
                                                  {"SMS-RC-503": 1}}})
    assert not store_needed(wanted(["rejected-server"]), None)
    with pytest.raises(ValueError, match="bogus"):
        wanted(["bogus"])


def test_estimate_is_one_request_per_thousand_messages() -> None:
    """The export costs ceil(messages / 1000) Light requests per batch."""
    spans = [span(size=2500), span(number=2, size=1000), span(number=3, state="failed")]
    assert estimate(spans, None) == (3500, 4)
    assert estimate(spans, wanted(["failed"])) == (3500, 6)  # a /statuses read per batch


def test_totals_count_rows_and_stand_in_counts() -> None:
    """Totals add rows, and a skipped batch's status counts stand in for its rows."""
    totals = Totals()
    totals.add(row_of(Record(0, 2, "+1", None), None, {}))
    totals.add_counts({"delivered": {"count": 3, "cost": 0.021},
                       "sent": {"count": 1, "cost": 0.007}})
    data = totals.as_json()
    assert (data["rows"], data["not-sent"], data["delivered"], data["sent-no-receipt"]) == \
        (5, 1, 3, 1)
    assert Totals.from_json(data).as_json() == data


def test_a_skipped_batch_counts_its_retryable_failures_as_its_rows_would() -> None:
    """The status counts of a batch not read stand in for its retryable rows too: each
    failure whose code the error table says is worth retrying, as ``classify`` marks it."""
    statuses = {"delivered": {"count": 5},
                "deliveryFailed": {"count": 4, "errorCodeCounts": {"SMS-RC-503": 2,
                                                                   "SMS-CAR-411": 2}},
                "sendingFailed": {"count": 3, "errorCodeCounts": {"SMS-CAR-432": 1,
                                                                  "SMS-CAR-104": 2}}}
    counted = Totals()
    counted.add_counts(statuses)
    rows = Totals()
    for status, codes in (("DeliveryFailed", ["SMS-RC-503"] * 2 + ["SMS-CAR-411"] * 2),
                          ("SendingFailed", ["SMS-CAR-432"] + ["SMS-CAR-104"] * 2)):
        for code in codes:
            rows.add(row_of(Record(0, 2, "+1", None), span(), {},
                            stored(message("+1", status, code))))
    assert counted.retryable == rows.retryable == 3
    assert counted.outcomes["delivery-failed"] == rows.outcomes["delivery-failed"] == 4


def test_matching_a_shuffled_store_holds_at_most_one_chunk() -> None:
    """Whatever order the store lists a batch in, every record is matched, and the records
    held never exceed the chunk."""
    numbers = [f"+1415{i:07d}" for i in range(500)]
    listed = [message(n, ident=i) for i, n in enumerate(numbers)]
    random.Random(4).shuffle(listed)
    matcher = Matcher(BATCH)
    pages = [listed[i:i + 100] for i in range(0, 500, 100)]
    peak = 0
    for number in numbers:
        while number not in matcher.pending:
            matcher.add(pages.pop(0))
            peak = max(peak, matcher.held)
        assert matcher.take(number) is not None
    assert peak <= len(numbers)
    assert matcher.held == 0


def test_a_pending_chunk_is_pending_until_its_store_is_whole_then_rejected() -> None:
    """Adopted, store incomplete when the send ended: a record the store lacks is pending,
    not retryable; once the store lists the whole batch, it is the server's rejection."""
    pending = span(pending=True)
    record = Record(4, 6, "+14155550104", None)
    row = row_of(record, pending, {}, None, complete=False)
    assert (row.outcome, row.retryable, row.batchId) == ("pending", False, BATCH)
    row = row_of(record, pending, {}, None, complete=True)
    assert (row.outcome, row.errorCode, row.retryable) == \
        ("rejected-server", "A2P-CODE-LOST-WITH-ANSWER", False)
    found = row_of(record, pending, {}, None, complete=False)
    assert not keep(found, wanted(["retryable"]))
    assert keep(found, wanted(["pending"]))  # the group of fates not final yet


def test_spans_mark_a_chunk_the_send_left_pending() -> None:
    """The journal's reason "pending" is what the export goes by."""
    entries = [{"chunk": 1, "firstIndex": 0, "lastIndex": 9, "status": "completed",
                "batchId": "b1", "batchSize": 8, "reason": "pending", "pending": 3},
               {"chunk": 2, "firstIndex": 10, "lastIndex": 19, "status": "completed",
                "batchId": "b2", "batchSize": 10, "reason": "recovered"}]
    assert [s.pending for s in spans_of(entries)] == [True, False]


def test_an_adopted_unsettled_chunk_is_pending_in_outcomes_as_in_the_report() -> None:
    """An adopted batch not settled yet (reason adopted, ``pending`` = count - batchSize, as
    the sender journals it after --wait accepted, a stop or the tracker's timeout): the
    recipients its store lacks are pending, as the report counts them, and rejected once
    the store is whole -- never unknown."""
    entries = [{"chunk": 1, "firstIndex": 0, "lastIndex": 9, "messages": 10,
                "status": "accepted", "batchId": "b1", "batchSize": 7, "adopted": True,
                "reason": "adopted", "pending": 3}]
    (adopted,) = spans_of(entries)
    record = Record(4, 6, "+14155550104", None)
    assert row_of(record, adopted, {}, None, complete=False).outcome == "pending"
    assert row_of(record, adopted, {}, None, complete=True).outcome == "rejected-server"


def test_spans_of_a_chunk_spanning_another_hold_only_its_own_positions() -> None:
    """Chunk 13, cut by a resume around chunk 6's range (its gap), gives two pieces, with
    chunk 6 between them; chunk 6, planned again, still stands (its records not sent)."""
    entries = [{"chunk": 6, "firstIndex": 200, "lastIndex": 299, "messages": 100,
                "status": "planned", "digest": "d"},
               {"chunk": 13, "firstIndex": 100, "lastIndex": 399, "messages": 200,
                "status": "accepted", "batchId": "b13", "batchSize": 200,
                "gaps": [[200, 299]], "digest": "d"}]
    spans = spans_of(entries)
    assert [(s.number, s.pieces) for s in spans] == [(13, [(100, 199), (300, 399)]),
                                                     (6, [(200, 299)])]
    assert pieces_of(spans) == [(100, 199, 0), (200, 299, 1), (300, 399, 0)]
