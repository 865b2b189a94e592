"""Processing-aware admission for a scheduled send: a batch is POSTed only when the server can
be expected to PROCESS it, after everything this run already queued ahead of it, before the
round's deadline. The window's margin alone is not processing time: RingCentral paces each
number (1 message a second published for 10DLC, 8 for toll-free), so 1,000 messages POSTed
at 20:49 are texted until about 21:06.

The rule, for a batch of ``n`` messages at ``now``::

    queued(now) + n <= rate * (deadline - now)

``queued`` is what the server accepted from this run and has not processed, behind what
other senders queued on the number before the round (``ahead``: the server processes a
number's batches one after another). This run's part is known at each status poll of the
tracker (``observed``) and, between polls, follows the model of one queue draining at
``rate`` (``accepted`` adds a batch). ``rate`` starts as the assumed one (``--send-rate``)
and becomes the lowest of the last few measurements once the polls show the server busy
(its queue not empty at both ends of a span that saw enough processed), never above the
assumed one: an idle server says nothing of its speed, and a fast one keeps the assumed,
careful rate.

Pure: every instant is passed in (epoch seconds); nothing here reads a clock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

DEFAULT_SEND_RATE = 1.0  # messages a second: RingCentral's published 10DLC figure, the lowest
MIN_SPAN = 20.0  # seconds a measurement must cover: processedCount is a whole number
# messages a measurement must see processed (a slow sender, 0.02 a second, processes 0 or 1
# in MIN_SPAN), unless the span is long enough to expect STALLED times as many at the rate
# the pacing goes by: then fewer is a stall (a server that slowed or stopped), which holds
# until a busy span measures again or the queue is seen empty
MIN_DONE = 10
STALLED = 3.0
KEPT = 3  # measurements kept; the rate is the lowest of them
# seconds a round's quota leaves for what comes before its first POST (reading the list,
# the opt-outs), so the chunks cut to fit still fit when they go
ROUND_SLACK = 60.0


def check_send_rate(rate: float) -> float:
    """A send rate (messages a second) as the options give it: positive and finite."""
    if not (isinstance(rate, int | float) and math.isfinite(rate) and rate > 0):
        raise ValueError(f"{rate!r} is not a positive number of messages a second")
    return float(rate)


class Pacing:
    """One sender's queue on the server, as this run knows it, and its rate."""

    def __init__(self, rate: float = DEFAULT_SEND_RATE) -> None:
        self.assumed = check_send_rate(rate)
        self._measured: deque[float] = deque(maxlen=KEPT)
        # a thin span's measurement (a server that slowed or stopped): it holds until a busy
        # span measures again or the queue is seen empty (the stall is over)
        self._stall: float | None = None
        self._queued = 0.0  # messages accepted and not processed at ``_at``
        self._at: float | None = None
        # the last observation with a queue: (instant, unprocessed), and what was accepted
        # since; a measurement spans from there to an observation that still has a queue
        self._base: tuple[float, int] | None = None
        self._since = 0
        self.on_wire = 0  # messages of requests sent and not answered: queued, maybe
        # messages of chunks that went on the wire or were held (gone from the pipeline
        # between the round's quota and the POST): ``pending`` is what the quota passed since
        self.gone = 0
        # chunks held right before their POST because they no longer fit: a round that sent
        # nothing for that waits for its deadline, it does not end the run
        self.unfit = 0
        # messages of batches not this run's on the number (other campaigns, tools, journals)
        # queued when a round started, and when: processed before this run's queue
        self._ahead = 0.0
        self._ahead_at = 0.0

    @property
    def rate(self) -> float:
        """Messages a second: the lowest of the assumed rate, the recent measurements and a
        stall not over. A measurement only ever lowers it: a server measured fast may slow."""
        rates = [self.assumed, *self._measured]
        if self._stall is not None:
            rates.append(self._stall)
        return min(rates)

    @property
    def measured(self) -> bool:
        return bool(self._measured) or self._stall is not None

    def queued(self, now: float) -> float:
        """Messages queued on the number and not processed yet at ``now`` (the model between
        polls): those of other senders ahead, then this run's, which drain only after."""
        return self._ahead_left(now) + self._ours(now)

    def _ours(self, now: float) -> float:
        """This run's messages not processed yet at ``now``: they drain once those ahead
        are processed."""
        if self._at is None:
            return 0.0
        rate = self.rate
        behind = self._ahead_at + self._ahead / rate if rate > 0 else math.inf
        return max(0.0, self._queued - rate * max(0.0, now - max(self._at, behind)))

    def ahead(self, count: int, now: float) -> None:
        """``count`` messages of batches not this run's are queued on the number at ``now``
        (listed at a round's start): the server processes them before this run's."""
        if self._at is not None:  # this run's queue as the model stood at ``now``
            self._queued, self._at = self._ours(now), max(self._at, now)
        self._ahead, self._ahead_at = float(max(0, count)), now
        self.rebase()  # this run's batches wait behind them: no span across the change

    def _ahead_left(self, now: float) -> float:
        return max(0.0, self._ahead - self.rate * max(0.0, now - self._ahead_at))

    def accepted(self, count: int, now: float) -> None:
        """A batch of ``count`` messages was accepted at ``now``: it queues behind the rest."""
        queued = self._ours(now)
        self._queued, self._at = queued + max(0, count), max(now, self._at or now)
        self._since += max(0, count)

    def observed(self, unprocessed: int, now: float) -> None:
        """A status poll at ``now`` read ``unprocessed`` messages not processed yet (every
        batch this run has open): the queue is that, and the span since the last busy poll
        measures the rate when the queue never emptied and the span saw enough."""
        self._queued, self._at = float(unprocessed), now
        if unprocessed <= 0:
            if self._base is not None and now > self._base[0]:
                at, before = self._base
                self._drained(max(0, before + self._since - 1) / (now - at))
            self._stall = None  # everything queued was processed: a stall is over
            self._base, self._since = None, 0
            return
        if self._base is None:
            self._base, self._since = (now, unprocessed), 0
            return
        at, before = self._base
        span = now - at
        done = before + self._since - unprocessed
        if self._ahead_left(now) > 0:  # other senders' batches go first: this run's
            self._base, self._since = (now, unprocessed), 0  # progress says nothing
            return
        if done < 0:  # the batches summed grew other than by ``accepted``: no measurement
            self._base, self._since = (now, unprocessed), 0
            return
        if span < MIN_SPAN:
            return  # too short to measure: the base stays and the span grows
        # processedCount is whole: the span may hold one message it did not see whole, and a
        # span chosen because it saw any would say the server is faster than it is
        if done >= MIN_DONE:
            self._measured.append((done - 1) / span)
            self._stall = None
        elif self.rate * span >= STALLED * MIN_DONE:
            self._stall = max(0, done - 1) / span
        else:
            return  # too few seen to measure: the span grows
        self._base, self._since = (now, unprocessed), 0

    def _drained(self, at_least: float) -> None:
        """The queue emptied: the server processed everything of the span, so it went at
        least ``at_least`` a second (one message short, as a measurement): a measurement
        below that is raised to it, and a stall is over."""
        raised = [max(rate, at_least) for rate in self._measured]
        self._measured.clear()
        self._measured.extend(raised)

    def idle(self, now: float) -> None:
        """Nothing of this run may be queued on the server (every chunk completed, failed or
        never sent): the queue is empty at ``now``, as a poll reading 0 would say, so a
        stall is over even when no batch is left to poll."""
        self.observed(0, now)

    def rebase(self) -> None:
        """The set of batches the polls sum changed other than by ``accepted`` and
        completion (a batch timed out, a round re-added the batches still queued): the next
        poll starts a new span instead of measuring across the change."""
        self._base, self._since = None, 0

    def fits(self, count: int, now: float, deadline: float) -> bool:
        """Whether ``count`` more messages POSTed at ``now`` are processed by ``deadline``,
        after those queued and those on the wire (concurrent requests not answered yet)."""
        return self.queued(now) + self.on_wire + count <= self.rate * (deadline - now)

    def pending(self, passed: int, gone_before: int) -> int:
        """Of ``passed`` messages a round's quota let through since ``gone`` was
        ``gone_before``, those not on the wire, queued or held yet (in the chunker, or a
        chunk waiting for a worker)."""
        return max(0, passed - (self.gone - gone_before))

    def room(self, now: float, deadline: float, slack: float = ROUND_SLACK) -> int:
        """How many messages a round starting at ``now`` may POST so that they are processed
        by ``deadline``, leaving ``slack`` seconds for the round to reach its first POST."""
        return max(0, math.floor(self.rate * (deadline - now - slack) - self.queued(now) -
                                 self.on_wire))


class OnWire:
    """One request's place on the wire: counted in the pacing from the instant ``may``
    lets it start until its answer (an accepted batch is then in the queue)."""

    def __init__(self, pacing: Pacing | None, count: int, may: Callable[[], bool]) -> None:
        self._pacing, self._count, self._may = pacing, count, may
        self._counted = self._sent = False

    def starts(self) -> bool:
        """The last check before the request goes out; True: it goes, and is counted.
        Asked again (a 401's retry), the request does not take its own room."""
        self.answered()
        if not self._may():
            return False
        if self._pacing is not None:
            self._pacing.on_wire += self._count
            self._pacing.gone += 0 if self._sent else self._count
            self._counted = self._sent = True
        return True

    @property
    def sent(self) -> bool:
        """It went on the wire at least once (counted ``gone``)."""
        return self._sent

    def answered(self) -> None:
        if self._pacing is not None and self._counted:
            self._pacing.on_wire -= self._count
            self._counted = False


def cap_deadline(day_ends: datetime, margin: float) -> datetime:
    """The day's quota is processed by 00:00 America/Los_Angeles less the margin: the carrier
    counts the day it processes a message, so a queue crossing midnight would put the next
    day over its cap."""
    return day_ends - timedelta(seconds=margin)
