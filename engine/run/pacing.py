"""A scheduled round's pacing (engine/schedule/pacing.py) as the loop of rounds uses it: the
round's deadline (the window's, and with a daily cap the cap day's end less the margin), how
many recipients it may POST so the server processes them by then, and how long the loop
waits when the server's queue leaves no room before the deadline.

One ``Pacing`` lives for the whole loop (its measured rate goes on from round to round); a
resumed run starts it from the journal: the chunks that may be on the server and have not
completed queue from their first request at the assumed rate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from engine.core import lifecycle
from engine.reading import Block
from engine.schedule.caps import CapDay
from engine.schedule.pacing import ROUND_SLACK, Pacing, cap_deadline

Narrow = Callable[[Iterable[Block]], Iterator[Block]]


def started(rate: float, chunks: Iterable[tuple[datetime, Mapping[str, Any]]]) -> Pacing:
    """A loop's pacing; ``chunks``: a resumed journal's (first submittedAt, entry) of the
    chunks that may have been sent: those not completed may still be queued."""
    pacing = Pacing(rate)
    for when, chunk in sorted(chunks, key=lambda each: each[0]):
        if chunk.get("status") != lifecycle.COMPLETED:
            pacing.accepted(int(chunk.get("messages", 0) or 0), when.timestamp())
    return pacing


def seen(chunks: Iterable[tuple[datetime, Mapping[str, Any]]]) -> frozenset[tuple[datetime, int]]:
    """The (last submittedAt, messages) of a journal's chunks that may have been sent: what
    the pacing knows of before the loop sleeps without the journal's lock."""
    return frozenset((when, int(chunk.get("messages", 0) or 0)) for when, chunk in chunks)


def joined(pacing: Pacing, chunks: Iterable[tuple[datetime, Mapping[str, Any]]],
           known: frozenset[tuple[datetime, int]]) -> int:
    """After a sleep without the lock: the chunks another process POSTed meanwhile (not in
    ``known``) and not completed queue in ``pacing`` from their request; the messages added."""
    added = 0
    for when, chunk in sorted(chunks, key=lambda each: each[0]):
        messages = int(chunk.get("messages", 0) or 0)
        if (when, messages) not in known and chunk.get("status") != lifecycle.COMPLETED:
            pacing.accepted(messages, when.timestamp())
            added += messages
    return added


def observer(pacing: Pacing, wall: Callable[[], float]) -> Callable[[int], None]:
    """The tracker's ``on_poll``: each poll's unprocessed messages, at the wall clock."""
    return lambda unprocessed: pacing.observed(unprocessed, wall())


def round_deadline(window: float, day: CapDay, cap: int | None, margin: float,
                   floor: datetime | None = None) -> float:
    """No POST from then on (epoch seconds): the window's deadline, with a daily cap the cap
    day's end less the margin, and the instant the journal says the run ended expired
    (``floor``: another process may have judged it by a clock ahead of this one's)."""
    deadline = window if floor is None else min(window, floor.timestamp())
    if cap is None:
        return deadline
    return min(deadline, cap_deadline(day.ends, margin).timestamp())


class PacedQuota:
    """The blocks up to what the server can process by the deadline, after its queue and
    what this round passed and has not POSTed yet, judged as each block comes (when its
    chunk is cut, just before its POST, not at the round's start: reading and the opt-outs
    may take minutes). The rest is read on and not passed, as ``Quota`` does."""

    def __init__(self, pacing: Pacing, deadline: float, wall: Callable[[], float]) -> None:
        self.pacing, self.deadline, self.wall = pacing, deadline, wall
        self.passed = 0
        self._gone = pacing.gone

    def __call__(self, blocks: Iterable[Block]) -> Iterator[Block]:
        for block in blocks:
            room = self.pacing.room(self.wall(), self.deadline) - \
                self.pacing.pending(self.passed, self._gone)
            if room <= 0:
                continue
            taken = block if len(block) <= room else block.subset(list(range(room)))
            self.passed += len(taken)
            yield taken


def round_quota(quota: Narrow, paced: Narrow) -> Narrow:
    """The day's cap, then the pacing: what a round passes to the chunker."""
    return lambda blocks: paced(quota(blocks))


def paced_wait(pacing: Pacing, now: datetime, deadline: float, window: float, day: CapDay,
               due: int, offset: float = 0.0) -> tuple[datetime, str] | None:
    """After a round that left recipients due: when the next round can send something, and
    why (None: a round now can). Past a cap day's deadline: its end; no room before the
    deadline (less than a minute of processing, not enough for everyone due): the deadline,
    when the keys closing then give way to the next ones. ``now``, ``deadline``, ``window``
    and ``day`` are on the schedule's clock, the pacing on this machine's: ``offset`` is the
    first less the second."""
    instant = now.timestamp()
    if instant >= deadline:
        # past the cap day's deadline: its end, unless the round ran past it into the next
        # day (``day`` is now's), whose quota is due now (adv29 F3)
        ours = deadline < window and deadline >= day.starts.timestamp()
        return (day.ends, "daily-cap") if ours else None
    room = pacing.room(instant - offset, deadline - offset)
    # no room at all (a full queue, or a rate of 0) is a wait, never "due": a round would
    # send nothing and the loop would end with recipients due
    if room > 0 and (room >= due or room >= pacing.rate * ROUND_SLACK):
        return None
    return datetime.fromtimestamp(deadline, UTC), "processing"
