"""A scheduled round's pacing (engine/schedule/pacing.py, engine/run/pacing.py): a batch goes
only when the server can process it, after what it has queued, before the deadline; the rate
is measured from the status polls only while the server was busy, and the lowest recent
measurement is used; the cap day's end less the margin is a deadline; the loop waits when
the queue leaves no room."""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.core import lifecycle
from engine.errors import UsageError
from engine.reading import Block
from engine.run.capledger import sent_chunks
from engine.run.options import SendOptions
from engine.run.pacing import (
    PacedQuota,
    joined,
    paced_wait,
    round_deadline,
    round_quota,
    seen,
    started,
)
from engine.run.scheduling import Quota
from engine.run.sharednumber import queued_ahead
from engine.schedule.caps import cap_day
from engine.schedule.pacing import (
    DEFAULT_SEND_RATE,
    MIN_DONE,
    MIN_SPAN,
    STALLED,
    OnWire,
    Pacing,
    cap_deadline,
)

NOW = datetime(2026, 11, 20, 20, 35, tzinfo=UTC).timestamp()


def test_a_batch_fits_only_if_processed_by_the_deadline_after_the_queue() -> None:
    """At 1 message a second with 600 s left and 300 queued, 300 more fit and 301 do not."""
    pacing = Pacing(1.0)
    pacing.accepted(300, NOW)
    assert pacing.fits(300, NOW, NOW + 600)
    assert not pacing.fits(301, NOW, NOW + 600)


def test_the_queue_drains_at_the_rate_between_polls() -> None:
    """100 s after 300 were accepted at 1 a second, 200 are still queued; never below 0."""
    pacing = Pacing(1.0)
    pacing.accepted(300, NOW)
    assert pacing.queued(NOW + 100) == 200
    assert pacing.queued(NOW + 1000) == 0


def test_a_poll_sets_the_queue_to_what_the_server_says() -> None:
    """A poll that reads 250 unprocessed (the server slower than assumed) is the queue."""
    pacing = Pacing(1.0)
    pacing.accepted(300, NOW)
    pacing.observed(250, NOW + 10)
    assert pacing.queued(NOW + 10) == 250


def test_the_rate_is_measured_only_over_a_busy_span_and_the_lowest_is_kept() -> None:
    """Two busy spans at 2/s and 0.5/s: the rate is about 0.5 (one message less than seen,
    since processedCount is whole); a span that ends with an empty queue (the server idle
    part of it) measures nothing."""
    pacing = Pacing(4.0)
    pacing.accepted(1000, NOW)
    pacing.observed(1000, NOW)
    pacing.observed(960, NOW + 20)  # 2 a second
    assert pacing.rate == 39 / 20
    assert pacing.measured
    pacing.observed(950, NOW + 40)  # 0.5 a second
    assert pacing.rate == 9 / 20
    pacing.observed(0, NOW + 4000)  # drained: no measurement
    assert pacing.rate == 9 / 20


def test_a_span_shorter_than_the_minimum_measures_nothing_yet() -> None:
    """processedCount is whole: a span under MIN_SPAN keeps the assumed rate and its base."""
    pacing = Pacing(4.0)
    pacing.accepted(100, NOW)
    pacing.observed(100, NOW)
    pacing.observed(90, NOW + MIN_SPAN / 2)
    assert not pacing.measured
    assert pacing.rate == 4.0
    pacing.observed(60, NOW + MIN_SPAN)  # 40 in MIN_SPAN seconds, from the first base
    assert pacing.rate == 39 / MIN_SPAN


def test_batches_accepted_during_a_span_count_as_processed_work() -> None:
    """100 queued, 50 more accepted, 110 left after 20 s: 40 processed, about 2 a second."""
    pacing = Pacing(4.0)
    pacing.observed(100, NOW)
    pacing.accepted(50, NOW + 5)
    pacing.observed(110, NOW + 20)
    assert pacing.rate == 39 / 20


def test_an_idle_server_keeps_the_assumed_rate() -> None:
    """A server that is never busy at a poll says nothing of its speed: the assumed rate."""
    pacing = Pacing(8.0)
    for k in range(5):
        pacing.accepted(10, NOW + 30 * k)
        pacing.observed(0, NOW + 30 * k + 5)
    assert pacing.rate == 8.0
    assert not pacing.measured


def test_requests_on_the_wire_take_their_room() -> None:
    """A request let go (and not answered) counts: two concurrent chunks of 400 do not both
    fit in 600 s at 1 a second; the answer gives its room back."""
    pacing = Pacing(1.0)
    first = OnWire(pacing, 400, lambda: pacing.fits(400, NOW, NOW + 600))
    second = OnWire(pacing, 400, lambda: pacing.fits(400, NOW, NOW + 600))
    assert first.starts()
    assert first.starts()
    assert pacing.on_wire == 400
    assert not second.starts()
    first.answered()
    assert pacing.on_wire == 0
    assert second.starts()


def test_a_round_s_room_leaves_the_slack_and_the_queue() -> None:
    """The room: the rate times the time left less the slack, less the queue, never below 0."""
    pacing = Pacing(1.0)
    pacing.accepted(100, NOW)
    assert pacing.room(NOW, NOW + 900) == 900 - 60 - 100
    assert pacing.room(NOW, NOW + 30) == 0


def block(count: int, first: int = 1) -> Block:
    return Block([f"+1415{2_000_000 + i:07d}" for i in range(count)], None,
                 list(range(first, first + count)))


def test_the_paced_quota_passes_what_fits_when_each_block_comes() -> None:
    """At 1 a second with 900 s left: 840 pass (the last block cut), what passed and is not
    POSTed yet counts; 5 minutes later (a slow read of the opt-outs) the room is judged then:
    540; the day's cap, when smaller, comes first."""
    clock = [NOW]
    pacing = Pacing(1.0)
    paced = PacedQuota(pacing, NOW + 900, lambda: clock[0])
    assert [len(b) for b in paced([block(500), block(500), block(10)])] == [500, 340]
    pacing.gone += 840  # both went on the wire and were answered: queued now
    pacing.accepted(840, NOW)
    assert list(paced([block(10)])) == []
    clock[0] = NOW + 300
    late = PacedQuota(Pacing(1.0), NOW + 900, lambda: clock[0])
    assert sum(len(b) for b in late([block(500), block(500)])) == 540
    capped = round_quota(Quota(100), PacedQuota(Pacing(1.0), NOW + 900, lambda: NOW))
    assert sum(len(b) for b in capped([block(500)])) == 100


def test_the_send_rate_must_be_positive() -> None:
    """A rate of 0, below 0 or not finite is refused."""
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="not a positive number"):
            Pacing(bad)
    assert Pacing().rate == DEFAULT_SEND_RATE == 1.0


def test_the_cap_day_s_end_less_the_margin_is_a_deadline() -> None:
    """With a daily cap, a round's deadline is the earlier of the window's and 00:00 Pacific
    less the margin; without one, the window's."""
    now = datetime(2026, 11, 21, 7, 40, tzinfo=UTC)  # 23:40 Pacific
    day = cap_day(1000, [], now)
    window = (now + timedelta(days=2)).timestamp()
    midnight = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    assert cap_deadline(day.ends, 600) == midnight - timedelta(minutes=10)
    assert round_deadline(window, day, 1000, 600) == (midnight - timedelta(minutes=10)
                                                      ).timestamp()
    assert round_deadline(window, day, None, 600) == window


def test_the_loop_waits_for_the_deadline_when_the_queue_leaves_no_room() -> None:
    """A queue that fills the time left: wait for the deadline ("processing"); room for all
    that is due, or for a minute's processing: no wait; past a cap day's deadline: wait for
    the next day; past a window's: no wait (its keys are closed now)."""
    now = datetime(2026, 11, 21, 4, 40, tzinfo=UTC)
    day = cap_day(None, [], now)
    deadline = (now + timedelta(minutes=10)).timestamp()
    full = Pacing(1.0)
    full.accepted(600, now.timestamp())
    assert paced_wait(full, now, deadline, deadline, day, 50) == (
        datetime.fromtimestamp(deadline, UTC), "processing")
    empty = Pacing(1.0)
    assert paced_wait(empty, now, deadline, deadline, day, 50) is None
    assert paced_wait(empty, now, deadline, deadline, day, 10_000) is None  # 540 s of room
    late = now + timedelta(minutes=11)
    assert paced_wait(empty, late, deadline, deadline, day, 50) is None
    assert paced_wait(empty, late, deadline, deadline + 3600, day, 50) == (day.ends,
                                                                           "daily-cap")


def test_a_resume_starts_with_the_chunks_that_may_still_be_queued() -> None:
    """A resumed loop's queue: the chunks not completed, from their first request, drained at
    the assumed rate since; completed ones are not queued."""
    at = datetime.fromtimestamp(NOW, UTC)
    pacing = started(1.0, [(at, {"status": lifecycle.ACCEPTED, "messages": 500}),
                           (at, {"status": lifecycle.COMPLETED, "messages": 900})])
    assert pacing.queued(NOW + 100) == 400


def test_the_library_refuses_a_send_rate_of_nothing() -> None:
    """send_rate 0 is a UsageError naming --send-rate and what to give."""
    with pytest.raises(UsageError, match=r"--send-rate.*10DLC"):
        SendOptions(send_rate=0.0)
    assert SendOptions(send_rate=8.0).send_rate == 8.0


def test_a_set_of_batches_that_grows_measures_no_rate_of_zero() -> None:
    """A poll whose sum jumps up (a round re-adding the batches still queued) is no
    measurement: the rate stays positive and a round still finds room (pacing_readd)."""
    pacing = Pacing(1.0)
    pacing.accepted(3000, 0.0)
    pacing.observed(3000, 5.0)
    pacing.observed(2900, 105.0)  # a real measurement: 1 msg/s
    assert pacing.rate == 99 / 100
    pacing.observed(2300, 730.0)  # without a rebase: 600 more counted, ~0.96 msg/s
    pacing.observed(4000, 760.0)  # the sum grew: done < 0, dropped
    assert pacing.rate > 0.9
    assert pacing.fits(1, 760.0, 10_000.0)
    pacing.rebase()  # a round's start: the next poll starts a span, measures nothing
    pacing.observed(9000, 800.0)
    assert pacing.rate > 0.9


def test_a_span_that_saw_too_few_processed_waits_to_measure() -> None:
    """A slow sender's short spans (0 or 1 message in 20 s at 0.02 a second) measure
    nothing, and the span grows until it has seen MIN_DONE messages: never the 0.05 a
    second that a span picked because it saw one would say."""
    pacing = Pacing(0.02)
    pacing.accepted(100, 0.0)
    pacing.observed(100, 0.0)
    pacing.observed(99, 20.0)
    assert not pacing.measured
    pacing.observed(99, 40.0)
    pacing.observed(90, 500.0)  # 10 in 500 s
    assert pacing.rate == 9 / 500


def test_a_stalled_server_is_measured_and_the_stall_ends_with_the_drain() -> None:
    """Nothing processed over a span that should have seen STALLED x MIN_DONE is a stall:
    no room (the loop waits); when the queue drains, the stall's measurement goes, or the
    loop would wait for good with nothing left to poll."""
    pacing = Pacing(2.0)
    pacing.accepted(500, 0.0)
    pacing.observed(500, 10.0)
    pacing.observed(500, 10.0 + max(MIN_SPAN, STALLED * MIN_DONE / 2.0))
    assert pacing.measured
    assert pacing.rate == 0.0
    assert pacing.room(100.0, 10_000.0) == 0
    pacing.observed(0, 400.0)  # all 500 processed: at least 500 / 390 a second
    assert not pacing.measured
    assert pacing.rate == 2.0


def test_a_stall_ends_when_the_queue_is_read_empty_after_a_rebase_or_nothing_is_queued(
        ) -> None:
    """A stall measured, then a round's start (a rebase): the first poll reads 0, or no
    chunk of the journal may be queued (idle): the stall is over and the round has room,
    not a wait for good (cold29 F3, adv29 F2)."""
    for end in ("poll", "idle"):
        pacing = Pacing(1.0)
        pacing.accepted(500, 0.0)
        pacing.observed(500, 0.0)
        pacing.observed(500, 60.0)
        assert pacing.rate == 0.0
        pacing.rebase()
        if end == "poll":
            pacing.observed(0, 7200.0)
        else:
            pacing.idle(7200.0)
        assert pacing.rate == 1.0
        assert pacing.room(7200.0, 10_800.0) == 3600 - 60


def test_a_drain_keeps_a_slow_server_s_measured_rate() -> None:
    """A number processing 0.02 a second, measured, then its queue drains (the last poll of
    a round that waits for completion): the rate stays at most the server's, never the
    assumed 1 a second (cold29 F1)."""
    pacing = Pacing(1.0)
    pacing.accepted(60, 0.0)
    pacing.observed(60, 0.0)
    t = 0.0
    while t < 3000.0:
        t += 30.0
        pacing.observed(60 - math.floor(0.02 * t), t)
    assert pacing.measured
    assert pacing.rate <= 0.02
    assert pacing.room(t, t + 3600.0) <= 0.02 * 3600


def test_a_measurement_only_lowers_the_rate() -> None:
    """A server measured faster than --send-rate is still paced at --send-rate: a server
    fast for a while may slow (adv29 F6)."""
    pacing = Pacing(1.0)
    pacing.accepted(1000, 0.0)
    pacing.observed(1000, 0.0)
    pacing.observed(800, 20.0)  # 10 a second
    assert pacing.measured
    assert pacing.rate == 1.0


@pytest.mark.parametrize("rate", [0.02, 0.3, 1.0, 8.0])
def test_the_measured_rate_is_never_above_the_server_s(rate: float) -> None:
    """A server processing exactly ``rate`` a second, read as a whole processedCount at
    polls 5 to 60 s apart (the tracker's backoff) for a day: once measured, the pacing never
    goes faster, though --send-rate says ten times as fast."""
    rng = random.Random(rate)
    pacing, t, size = Pacing(10 * rate), 0.0, 10 ** 6
    pacing.accepted(size, t)
    while t < 86_400:
        t += rng.uniform(5.0, 60.0)
        pacing.observed(size - math.floor(rate * t), t)
        assert not pacing.measured or pacing.rate <= rate  # assumed ten times too fast
    assert pacing.measured
    assert pacing.rate > 0.8 * rate


def test_a_rebase_keeps_a_change_of_the_batches_summed_from_measuring() -> None:
    """The batches the polls sum shrank other than by processing (a timeout, a round that
    re-added fewer): after a rebase the drop of 600 is no measurement of 6 a second."""
    pacing = Pacing(8.0)
    pacing.accepted(1000, 0.0)
    pacing.observed(1000, 0.0)
    pacing.rebase()
    pacing.observed(400, 100.0)
    assert not pacing.measured
    assert pacing.rate == 8.0


def test_the_loop_waits_when_no_room_is_left_however_few_are_due() -> None:
    """No room before the deadline is a wait ("processing"), never "due": a round would send
    nothing and the loop would end with recipients due."""
    now = datetime(2026, 11, 21, 4, 40, tzinfo=UTC)
    day = cap_day(None, [], now)
    deadline = (now + timedelta(minutes=10)).timestamp()
    stalled = Pacing(1.0)
    stalled._measured.append(0.0)  # a rate of 0 (measured before spans of 0 were dropped)
    assert paced_wait(stalled, now, deadline, deadline, day, 1) == (
        datetime.fromtimestamp(deadline, UTC), "processing")
    full = Pacing(1.0)
    full.accepted(600, now.timestamp())
    assert paced_wait(full, now, deadline, deadline, day, 1) == (
        datetime.fromtimestamp(deadline, UTC), "processing")


def test_a_wake_queues_the_chunks_another_process_posted_while_this_one_slept(
        tmp_path: Path) -> None:
    """While a run slept without the lock, a cron tick POSTed two chunks (one completed
    already): at the wake the one not completed queues in the pacing from its request, and
    the chunks the pacing knew of are not added twice."""
    from tests.test_capledger import chunk, journal, state

    t0 = "2026-11-20T15:00:00.000000Z"
    before = [chunk(1, 300), state(1, "submitting", t0), state(1, "accepted", t0)]
    path = journal(tmp_path, before)
    pacing = started(1.0, sent_chunks(path))
    known = seen(sent_chunks(path))
    at = datetime(2026, 11, 20, 15, 10, tzinfo=UTC).timestamp()
    assert pacing.queued(at) == 0  # 300 s of its 600 s sleep drained it
    t1 = "2026-11-20T15:09:00.000000Z"
    path = journal(tmp_path, [*before,
                              chunk(2, 500), state(2, "submitting", t1), state(2, "accepted", t1),
                              chunk(3, 40), state(3, "submitting", t1),
                              state(3, "completed", t1)])
    assert joined(pacing, sent_chunks(path), known) == 500
    assert pacing.queued(at) == 440  # chunk 2 since 15:09 at 1 msg/s
    assert not pacing.fits(3000, at, at + 3000)  # the tick's batch is ahead of this one's


def test_a_round_that_ran_past_midnight_pacific_is_not_held_for_the_new_day() -> None:
    """A cap day's round ended at 00:20 PT (a long wait for receipts): the deadline was the
    old day's 23:50, and the new day's quota is due now, not after the new day ends; a round
    that ended at 23:55 waits for 00:00 (adv29 F3)."""
    pt = ZoneInfo("America/Los_Angeles")
    deadline = datetime(2026, 11, 20, 23, 50, tzinfo=pt).timestamp()
    window = deadline + 86_400
    late = datetime(2026, 11, 21, 0, 20, tzinfo=pt)
    assert paced_wait(Pacing(1.0), late, deadline, window, cap_day(1000, [], late), 5) is None
    before = datetime(2026, 11, 20, 23, 55, tzinfo=pt)
    day = cap_day(1000, [], before)
    assert paced_wait(Pacing(1.0), before, deadline, window, day, 5) == (day.ends, "daily-cap")


def test_messages_queued_ahead_by_other_senders_take_the_room_first() -> None:
    """Another tool's 3,000 messages queued on the number at 1 a second: a round with 50
    minutes to its deadline has no room; this run's own batch drains only after them; a
    poll while they are ahead measures nothing (no stall of this run's batches)."""
    pacing = Pacing(1.0)
    pacing.ahead(3000, 0.0)
    assert pacing.room(0.0, 3000.0) == 0
    assert pacing.queued(1000.0) == 2000
    pacing.accepted(100, 1000.0)
    assert pacing.queued(2000.0) == 1000 + 100
    assert pacing.queued(3050.0) == 50
    pacing.observed(100, 1000.0)
    pacing.observed(100, 1500.0)
    assert not pacing.measured


async def test_the_queue_ahead_counts_other_batches_not_processed() -> None:
    """The listing's queued and processing batches not this journal's count what they have
    not processed; this journal's own, and a completed one, do not."""
    views = [{"id": "mine", "status": "Processing", "batchSize": 50, "processedCount": 0},
             {"id": "theirs", "status": "Processing", "batchSize": 300, "processedCount": 120},
             {"id": "queued", "status": "Queued", "batchSize": 40},
             {"id": "done", "status": "Completed", "batchSize": 70, "processedCount": 70}]
    asked: list[Mapping[str, Any]] = []

    async def listing(params: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
        asked.append(params)
        for view in views:
            yield view

    assert await queued_ahead(listing, "+16505550100", frozenset({"mine"})) == 180 + 40
    assert asked == [{"from": "+16505550100", "status": ["Queued", "Processing"]}]


def test_a_round_s_listing_keeps_what_this_run_s_queue_drained_before_it() -> None:
    """1,000 of this run's accepted at 0 at 1 a second; a round's listing at 1,500 s (nothing
    of others queued): this run's queue is empty, not 1,000 again from the listing (a day's
    queue counted anew would leave the next day no room)."""
    pacing = Pacing(1.0)
    pacing.accepted(1000, 0.0)
    pacing.ahead(0, 1500.0)
    assert pacing.queued(1500.0) == 0
    pacing.accepted(100, 1500.0)
    pacing.ahead(50, 1520.0)  # 80 of this run's left, behind 50 of others
    assert pacing.queued(1520.0) == 50 + 80
