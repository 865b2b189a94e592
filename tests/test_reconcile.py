"""The reconciliation decision, driven by a scripted server and a fake clock (no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from engine.core.reconcile import (
    UNSURE_GRACE,
    Absent,
    Adopt,
    Expected,
    ReadListing,
    ReadMessages,
    Reconciliation,
    Step,
    Undecided,
    Wait,
)

SENDER = "+16505550100"
OURS = dict.fromkeys((f"+1415555{i:04d}" for i in range(30)), "Hi")


@dataclass
class Server:
    """What the server lists at a given time: batches (by the time they appear) and their
    messages (by the time they become listable)."""

    page_size: int = 1000
    batches: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    messages: dict[str, tuple[float, list[dict[str, Any]]]] = field(default_factory=dict)
    listing_reads: int = 0
    pages_seen: set[str | None] = field(default_factory=set)

    def add(self, batch_id: str, texts: dict[str, str], listed_at: float = 0.0,
            messages_at: float = 0.0, sender: str = SENDER) -> None:
        self.batches.append((listed_at, {"id": batch_id, "from": sender,
                                         "batchSize": len(texts)}))
        records = [{"to": [to], "text": text, "batchId": batch_id} for to, text in texts.items()]
        self.messages[batch_id] = (messages_at, records[::-1])  # not in the request's order

    def answer(self, step: Step, now: float) -> tuple[list[dict[str, Any]], str | None]:
        if isinstance(step, ReadListing):
            self.listing_reads += 1
            self.pages_seen.add(step.params.get("pageToken"))
            listed = [b for at, b in self.batches if at <= now]
            start = int(step.params.get("pageToken", 0))
            end = start + self.page_size
            return listed[start:end], str(end) if end < len(listed) else None
        assert isinstance(step, ReadMessages)
        at, records = self.messages[step.batch_id]
        return (records[:step.params["perPage"]] if at <= now else []), None


def drive(server: Server, window: float = 10.0, owned: set[str] | None = None,
          texts: dict[str, str] = OURS, on_step: Callable[[Step, float], None] | None = None
          ) -> tuple[Step, Reconciliation, float]:
    """Run a reconciliation to its end; each read takes 0.1 s of the fake clock."""
    r = Reconciliation(Expected.of(SENDER, texts.items()), owned or set(), started=0.0,
                       window=window, date_from="2026-11-25T12:00:00+00:00", interval=1.0,
                       max_interval=4.0)
    now = 0.0
    for _ in range(10_000):
        step = r.next(now)
        if on_step is not None:
            on_step(step, now)
        if isinstance(step, Adopt | Absent | Undecided):
            return step, r, now
        if isinstance(step, Wait):
            now += step.seconds
            continue
        records, token = server.answer(step, now)
        now += 0.1
        if isinstance(step, ReadListing):
            r.listing(records, token)
        else:
            r.messages(step.batch_id, records)
    raise AssertionError("the reconciliation never ended")


def test_a_batch_listed_at_once_is_adopted_on_the_first_look() -> None:
    """The lost request's batch is in the first listing: adopted without waiting."""
    server = Server()
    server.add("ours", OURS)
    step, r, now = drive(server)
    assert step == Adopt({"id": "ours", "from": SENDER, "batchSize": 30})
    assert (r.looks, now) == (1, 0.2)


def test_a_batch_created_seconds_after_the_answer_was_lost_is_adopted() -> None:
    """Created 8 s after a 504 (inside the window): a later look finds and adopts it."""
    server = Server()
    server.add("ours", OURS, listed_at=8.0, messages_at=8.0)
    step, r, now = drive(server)
    assert isinstance(step, Adopt)
    # looks at 0, 1.1, 3.2 and 7.3 s (pauses of 1, 2, 4 s after each 0.1 s read) miss it;
    # the last, as the window ends at 10 s, finds it
    assert r.looks == 5
    assert now == pytest.approx(10.2)


def test_nothing_is_concluded_absent_before_the_window_has_passed() -> None:
    """No batch ever: absent, and only from a look that began after the window ended."""
    starts: list[float] = []
    server = Server()

    def note(step: Step, now: float) -> None:
        if isinstance(step, ReadListing) and "pageToken" not in step.params:
            starts.append(now)

    step, _r, _ = drive(server, window=10.0, on_step=note)
    assert step == Absent()
    # backing off 1, 2, 4 s (the cap) after each 0.1 s read; the last look begins as the
    # window ends, so nothing is concluded from a look that began inside it
    assert starts == pytest.approx([0.0, 1.1, 3.2, 7.3, 10.0])


def test_a_candidate_whose_messages_are_not_listed_yet_is_never_taken_as_not_ours() -> None:
    """Listed at once, messages only after processing starts (5 s): adopted, not resent."""
    server = Server()
    server.add("ours", OURS, messages_at=5.0)
    step, r, now = drive(server)
    assert isinstance(step, Adopt)
    # its messages were empty at 0, 1.2 and 3.4 s, and ours at the look of 7.6 s
    assert r.looks == 4
    assert now == pytest.approx(7.8)


def test_a_candidate_still_unlisted_when_the_window_ends_leaves_it_undecided() -> None:
    """Its messages never become listable, within the window or the grace after it that
    a candidate waiting to start processing gets: undecided, never absent."""
    server = Server()
    server.add("ours", OURS, messages_at=1e9)
    step, _, now = drive(server)
    assert isinstance(step, Undecided)
    assert "ours" in step.reason
    assert now >= 10.0 * (1 + UNSURE_GRACE)


def test_a_candidate_that_starts_processing_after_the_window_is_adopted() -> None:
    """A batch that waits behind the sender's others lists its messages 25 s after the
    answer was lost, past the 10 s window: the search goes on for it and adopts it, rather
    than leaving the chunk unknown (messages-after-start behind a queue)."""
    server = Server()
    server.add("ours", OURS, messages_at=25.0)
    step, _, now = drive(server)
    assert isinstance(step, Adopt)
    assert 25.0 <= now < 10.0 * (1 + UNSURE_GRACE)


def test_another_campaigns_batch_to_the_same_list_is_not_ours() -> None:
    """Same sender, same recipients, other text: not adopted; nothing else: absent."""
    server = Server()
    server.add("other", dict.fromkeys(OURS, "Earlier campaign"))
    step, _, _ = drive(server)
    assert step == Absent()


def test_every_page_of_a_small_page_listing_is_walked() -> None:
    """Pages of 2 among other campaigns' batches: ours, on the last page, is found."""
    server = Server(page_size=2)
    for k in range(7):
        server.add(f"other-{k}", {f"+1212555{i:04d}": "Other" for i in range(k + 1)})
    server.add("ours", OURS)
    step, _, _ = drive(server)
    assert isinstance(step, Adopt)
    assert step.batch["id"] == "ours"
    assert server.pages_seen == {None, "2", "4", "6"}


def test_owned_larger_and_other_sender_batches_are_never_candidates() -> None:
    """A batch another chunk owns, one larger than the chunk, or from another number is not
    even read."""
    server = Server()
    server.add("owned", OURS)
    server.add("larger", {**OURS, "+14155559999": "Hi"})
    server.add("elsewhere", OURS, sender="+16505550101")
    reads: list[str] = []

    def note(step: Step, now: float) -> None:
        if isinstance(step, ReadMessages):
            reads.append(step.batch_id)

    step, _, _ = drive(server, owned={"owned"}, on_step=note)
    assert step == Absent()
    assert reads == []


def test_a_batch_claimed_by_another_chunk_is_disowned_and_the_search_goes_on() -> None:
    """Found, but another chunk adopted it first: the search continues to the end."""
    server = Server()
    server.add("ours", OURS)
    r = Reconciliation(Expected.of(SENDER, OURS.items()), set(), started=0.0, window=0.0,
                       date_from="x")
    step = r.next(0.0)
    assert isinstance(step, ReadListing)
    r.listing(*server.answer(step, 0.0))
    step = r.next(0.0)
    assert isinstance(step, ReadMessages)
    r.messages(step.batch_id, server.answer(step, 0.0)[0])
    assert isinstance(r.next(0.0), Adopt)
    r.disown("ours")
    assert r.next(0.0) == Absent()


def test_a_zero_window_takes_one_look() -> None:
    """window 0: one look decides (the old behaviour, for a server known to be immediate)."""
    step, r, _ = drive(Server(), window=0.0)
    assert (step, r.looks) == (Absent(), 1)


def test_a_listing_that_repeats_its_page_token_ends_the_search() -> None:
    """A server repeating its nextPageToken ends the look with PagingError, not a hang."""
    import pytest

    from engine.errors import PagingError

    r = Reconciliation(Expected.of(SENDER, OURS.items()), set(), started=0.0, window=10.0,
                       date_from="2026-11-25T12:00:00+00:00")
    assert isinstance(r.next(0.0), ReadListing)
    r.listing([], "again")
    assert r.next(0.0) == ReadListing({"from": SENDER, "dateFrom": "2026-11-25T12:00:00+00:00",
                                       "pageToken": "again"})
    with pytest.raises(PagingError, match="a second time"):
        r.listing([], "again")


def test_a_batch_created_before_the_request_went_out_is_never_a_candidate() -> None:
    """A same-text batch to some of the chunk, created well before the lost request, is an
    earlier run's; one stamped within the clock margin of the request is still looked at."""
    from datetime import UTC, datetime

    sent = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC).timestamp()

    def stamp(seconds: float) -> str:
        return datetime.fromtimestamp(sent + seconds, UTC).isoformat()

    def search(created: str) -> Step:
        r = Reconciliation(Expected.of(SENDER, OURS.items()), set(), started=0.0, window=0.0,
                           date_from=stamp(-60), created_after=sent)
        first = next(iter(OURS))
        assert isinstance(r.next(0.0), ReadListing)
        r.listing([{"id": "b", "from": SENDER, "batchSize": 1, "creationTime": created}], None)
        step = r.next(0.1)
        if isinstance(step, ReadMessages):
            r.messages("b", [{"to": [first], "text": "Hi"}])
            step = r.next(0.2)
        return step

    assert isinstance(search(stamp(-30)), Absent)  # a smoke test half a minute before
    assert isinstance(search(stamp(-1)), Adopt)  # the Date header's second: could be ours
    assert isinstance(search(stamp(+2)), Adopt)


SENT = 1_800_000_000.0  # our clock when the lost request went out


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _clocked(offset_at: Callable[[float], float | None], created: float,
             guess: float = 0.0) -> tuple[Step, int]:
    """A search for a batch created at ``created`` (backend's clock) that holds the whole
    chunk; ``offset_at(now)`` is the calibration known at each moment. The step it ends with,
    and how many looks it took."""
    from engine.core.reconcile import SentAt

    r = Reconciliation(Expected.of(SENDER, OURS.items()), set(), started=0.0, window=3.0,
                       date_from=None, sent=SentAt(SENT, offset_at(0.0), guess),
                       interval=1.0, max_interval=1.0)
    batch = {"id": "b", "from": SENDER, "batchSize": len(OURS), "creationTime": _iso(created)}
    now = 0.0
    for _ in range(100):
        r.calibrate(offset_at(now))
        step = r.next(now)
        if isinstance(step, Adopt | Absent | Undecided):
            return step, r.looks
        if isinstance(step, Wait):
            now += step.seconds
        elif isinstance(step, ReadListing):
            r.listing([batch], None)
            now += 0.1
        else:
            assert isinstance(step, ReadMessages)
            r.messages("b", [{"to": [to], "text": text} for to, text in OURS.items()])
            now += 0.1
    raise AssertionError("the search did not end")


def test_a_matching_batch_ruled_out_only_by_an_uncalibrated_clock_is_never_proved_absent(
        ) -> None:
    """The backend's clock is 300 s behind a gateway's Date and nothing has calibrated it:
    the real batch looks "too early", so the chunk is left undecided, never resent."""
    step, _ = _clocked(lambda now: None, created=SENT - 300 + 0.5, guess=0.0)
    assert isinstance(step, Undecided)
    assert "calibrated" in step.reason


def test_a_calibration_arriving_during_the_window_adopts_the_batch() -> None:
    """Another chunk's 201 calibrates the clock (backend 300 s behind) while the lost one is
    looked for: the next look finds the batch in time and adopts it."""
    step, looks = _clocked(lambda now: -300.0 if now >= 1.5 else None,
                           created=SENT - 300 + 0.5)
    assert isinstance(step, Adopt)
    assert looks >= 2


def test_a_calibration_arriving_in_the_last_look_takes_one_more_look() -> None:
    """Calibrated just after the last look began (with a held batch): one more look rules."""
    step, _ = _clocked(lambda now: -300.0 if now >= 3.05 else None, created=SENT - 300 + 0.5)
    assert isinstance(step, Adopt)


def test_an_identical_batch_clearly_earlier_by_the_calibrated_clock_is_still_excluded() -> None:
    """Calibrated: a same-chunk batch created 30 s before the request is an earlier run's,
    never ours, and absence is proved."""
    step, _ = _clocked(lambda now: -300.0, created=SENT - 300 - 30)
    assert step == Absent()


def test_uncalibrated_looks_reach_far_back_and_calibrated_ones_a_minute() -> None:
    """dateFrom: an hour before the request without calibration (the gap is unknown), a
    minute before it on the calibrated creation clock."""
    from engine.core.reconcile import SentAt

    r = Reconciliation(Expected.of(SENDER, OURS.items()), set(), started=0.0, window=5.0,
                       date_from=None, sent=SentAt(SENT, None, 20.0))
    first = r.next(0.0)
    assert isinstance(first, ReadListing)
    assert first.params["dateFrom"] == _iso(SENT - 3600)
    r.listing([], None)
    r.calibrate(-300.0)
    assert isinstance(r.next(0.1), Wait)
    second = r.next(2.0)
    assert isinstance(second, ReadListing)
    assert second.params["dateFrom"] == _iso(SENT - 300 - 60)


def test_a_journal_calibrates_from_its_smallest_creation_gap() -> None:
    """Each accepted chunk's createdAt minus its submittedAt; the smallest is kept."""
    from engine.core.reconcile import creation_offset

    assert creation_offset([(_iso(SENT), _iso(SENT - 298)), (_iso(SENT + 5), _iso(SENT - 299)),
                            (None, _iso(SENT)), (_iso(SENT), None)]) == pytest.approx(-304.0)
    assert creation_offset([]) is None
