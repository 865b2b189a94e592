"""The store decision without a server: an adopted chunk's absent recipients become server
rejections only once the message store lists the whole batch; a store that stays incomplete
past the window leaves them pending, never rejected."""

from __future__ import annotations

from collections import Counter

from engine.core.storecheck import (
    Pending,
    ReadStore,
    Settled,
    StoreSettle,
    Wait,
    absent,
    complete,
)

TOS = [f"+1415555{k:04d}" for k in range(10)]


def held(*tos: str) -> Counter[str]:
    return Counter(tos)


def test_absent_counts_a_number_sent_twice_as_needing_two_records() -> None:
    """A number twice in the chunk and once in the store: its second occurrence is absent."""
    assert absent(["+1", "+2", "+1"], held("+1", "+2")) == (3,)
    assert absent(["+1", "+2"], held("+2", "+1")) == ()


def test_complete_needs_the_whole_batch_and_only_the_chunks_recipients() -> None:
    """Listed short of batchSize, or a listed record that is not the chunk's: not complete."""
    assert complete(count=10, batch_size=8, listed=8, missing=2)
    assert not complete(count=10, batch_size=8, listed=7, missing=3)
    assert not complete(count=10, batch_size=8, listed=8, missing=3)  # one record not ours
    assert not complete(count=10, batch_size=11, listed=11, missing=0)


def test_a_complete_store_at_the_first_read_settles_the_rejections() -> None:
    """Every accepted message listed: the two absent recipients are the rejections."""
    settle = StoreSettle(TOS, batch_size=8, started=0.0, window=30.0)
    assert settle.next(0.0) == ReadStore()
    settle.read(held(*TOS[:3], *TOS[5:]), listed=8)
    assert settle.next(0.0) == Settled(missing=(4, 5), listed=8)


def test_a_lagging_store_is_read_again_with_backoff_until_it_is_complete() -> None:
    """Three of eight listed, then all: settled with exactly the two true rejections, after
    waits that double."""
    settle = StoreSettle(TOS, batch_size=8, started=0.0, window=30.0, interval=1.0,
                         max_interval=60.0)
    assert settle.next(0.0) == ReadStore()
    settle.read(held(*TOS[:3]), listed=3)
    assert settle.next(0.0) == Wait(1.0)
    assert settle.next(1.0) == ReadStore()
    settle.read(held(*TOS[:5]), listed=5)
    assert settle.next(1.0) == Wait(2.0)
    assert settle.next(3.0) == ReadStore()
    settle.read(held(*TOS[2:]), listed=8)
    assert settle.next(3.0) == Settled(missing=(1, 2), listed=8)


def test_a_store_still_incomplete_after_the_window_leaves_them_pending() -> None:
    """The last read begins at the window's end; still short: pending, with what it lacked."""
    settle = StoreSettle(TOS, batch_size=8, started=0.0, window=5.0, interval=4.0)
    now = 0.0
    for _ in range(10):  # bounded
        step = settle.next(now)
        if isinstance(step, Wait):
            now += step.seconds
        elif isinstance(step, ReadStore):
            settle.read(held(*TOS[:6]), listed=6)
        else:
            break
    assert isinstance(step, Pending)
    assert step.missing == (7, 8, 9, 10)
    assert now == 5.0  # the final read began at the window's end, not later
    assert "listed 6 of the batch's 8 messages after 5 s" in step.reason
    assert settle.reads == 3  # at 0, 4 and 5 s


def test_reads_that_fail_leave_every_recipient_pending_never_rejected() -> None:
    """No read succeeded: nobody is proven sent nor rejected, so all are pending."""
    settle = StoreSettle(TOS[:3], batch_size=3, started=0.0, window=0.0)
    assert settle.next(0.0) == ReadStore()
    settle.failed("HTTP 503")
    step = settle.next(0.0)
    assert isinstance(step, Pending)
    assert step.missing == (1, 2, 3)
    assert "could not be read (HTTP 503)" in step.reason


def test_a_failed_read_after_a_partial_one_keeps_what_the_partial_one_proved() -> None:
    """Listed before, unreadable at the end: those listed stay sent, the rest pending."""
    settle = StoreSettle(TOS[:4], batch_size=4, started=0.0, window=1.0, interval=1.0)
    settle.next(0.0)
    settle.read(held(*TOS[:2]), listed=2)
    settle.next(1.0)
    settle.failed("timeout")
    step = settle.next(1.0)
    assert isinstance(step, Pending)
    assert step.missing == (3, 4)
