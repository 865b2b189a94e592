"""The account's SMS consent records, as RingCentral keeps them: one per (from, to) pair, the
account's number and the recipient's, with ``optStatus`` OptOut or OptIn, a ``source`` and
the time of the last change (reference/ringcentral-preflight-openapi.json, SmsOptRecord).

Pure state: every method takes the current time. A pair's changes are kept with their times,
so a message is judged by the pair's status when it was processed: a STOP mid-campaign fails
the later messages to that pair, not the earlier ones. Records keep the order they were first
made in (``serial``), which the page tokens follow: a reader that pages from start to end
sees every record once, and a change made meanwhile changes ``version`` (the ETag).
"""

from __future__ import annotations

import heapq
import random
import re
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from engine.simulator.settings import ConsentSettings, SimulatorSettings

OPT_OUT, OPT_IN = "OptOut", "OptIn"
OPT_STATUSES = (OPT_OUT, OPT_IN)
SOURCES = ("Recipient", "Api", "Upstream", "Carrier")  # SmsOptSourceEnum
E164 = re.compile(r"^\+[1-9]\d{1,14}$")  # PhoneNumberE164
# RingCentral's keywords (docs: High Volume SMS, "Handling Opt-in / Opt-out requests")
STOP_WORDS = frozenset({"STOP", "UNSUBSCRIBE", "QUIT", "CANCEL", "END"})
START_WORDS = frozenset({"START", "SUBSCRIBE", "RESUME", "CONTINUE", "UNSTOP"})
SEEDED_SOURCES = (("Recipient", 0.7), ("Api", 0.2), ("Upstream", 0.05), ("Carrier", 0.05))
YEAR = 365 * 86400.0


def is_e164(number: object) -> bool:
    return isinstance(number, str) and len(number) <= 18 and E164.match(number) is not None


@dataclass(slots=True)
class Record:
    """One pair's consent: its current status and every change with its time."""

    serial: int
    sender: str
    to: str
    status: str
    source: str
    modified: float
    history: list[tuple[float, str]] = field(default_factory=list)
    # SmsConsentCoverageEnum: PhoneNumber (this pair) or Account (every number of the
    # account; ``sender`` is the number it was taken on, the spec's required ``from``)
    coverage: str = "PhoneNumber"

    def status_at(self, t: float) -> str | None:
        """The status in force at ``t`` (None: no record yet, consent assumed)."""
        k = bisect_right(self.history, (t, "~"))
        return self.history[k - 1][1] if k else None


@dataclass(frozen=True, slots=True)
class Query:
    """The filters of a search (SearchSmsConsentRecordsRequest); empty means any."""

    senders: frozenset[str] = frozenset()
    recipients: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()
    coverage: frozenset[str] = frozenset()

    def matches(self, record: Record) -> bool:
        # ``from`` filters every coverage by the record's own number: an Account record
        # taken on another number is found by its coverage, not by the sender's ``from``
        return ((not self.senders or record.sender in self.senders)
                and (not self.recipients or record.to in self.recipients)
                and (not self.statuses or record.status in self.statuses)
                and (not self.coverage or record.coverage in self.coverage))


class ConsentStore:
    def __init__(self, numbers: Sequence[str]) -> None:
        self.numbers = tuple(numbers)  # the account's numbers: what "*" means
        self._records: list[Record] = []
        self._by_pair: dict[tuple[str, str], Record] = {}
        self._by_sender: dict[str, set[int]] = {}  # recipients (as integers) with a record
        self._by_account: dict[str, Record] = {}  # recipient -> its Account-coverage record
        self._account_targets: set[int] = set()
        self._pending: list[tuple[float, int, str, str, str]] = []  # STOP/START replies due
        self.version = 0

    @classmethod
    def seeded(cls, settings: SimulatorSettings, now: float) -> ConsentStore:
        """The records a profile starts with, the same for the same seed."""
        store = cls((*settings.senders, *settings.other_numbers))
        store.seed(settings.consents, now)
        return store

    def seed(self, c: ConsentSettings, now: float) -> None:
        if not is_e164(c.pool_start):
            raise ValueError(f"consents.pool_start {c.pool_start!r} is not an E.164 number")
        wanted = c.opted_out + c.opted_in
        if wanted > c.pool_size:
            raise ValueError("consents.opted_out + opted_in is more than pool_size")
        if not wanted or not self.numbers:
            return
        rng = random.Random(c.seed)
        first = int(c.pool_start[1:])
        drawn = rng.sample(range(c.pool_size), wanted)
        names = [name for name, _ in SEEDED_SOURCES]
        weights = [w for _, w in SEEDED_SOURCES]
        others = self.numbers[1:]
        for k, offset in enumerate(drawn):
            status = OPT_OUT if k < c.opted_out else OPT_IN
            sender = self.numbers[0]
            if others and rng.random() < c.elsewhere_share:
                sender = rng.choice(others)
            source = rng.choices(names, weights)[0]
            self.set(sender, f"+{first + offset}", status, source, now - rng.random() * YEAR)

    # Changes ---------------------------------------------------------------------------

    def set(self, sender: str, to: str, status: str, source: str, at: float) -> Record:
        """Record a pair's status as of ``at`` (``sender`` "*": every number of the account,
        the last of them returned)."""
        if sender == "*":
            records = [self.set(n, to, status, source, at) for n in self.numbers]
            return records[-1]
        key = (sender, to)
        record = self._by_pair.get(key)
        if record is None:
            record = Record(len(self._records) + 1, sender, to, status, source, at)
            self._records.append(record)
            self._by_pair[key] = record
            self._by_sender.setdefault(sender, set()).add(int(to[1:]))
        record.status, record.source, record.modified = status, source, at
        record.history.append((at, status))
        record.history.sort()
        self.version += 1
        return record

    def set_account(self, sender: str, to: str, status: str, source: str, at: float
                    ) -> Record:
        """Record ``to``'s status for every number of the account as one record of coverage
        Account, taken on ``sender`` (its ``from``)."""
        record = self._by_account.get(to)
        if record is None:
            record = Record(len(self._records) + 1, sender, to, status, source, at,
                            coverage="Account")
            self._records.append(record)
            self._by_account[to] = record
            self._account_targets.add(int(to[1:]))
        record.status, record.source, record.modified = status, source, at
        record.history.append((at, status))
        record.history.sort()
        self.version += 1
        return record

    def reply_later(self, at: float, sender: str, to: str, word: str) -> None:
        """A recipient's reply that takes effect at ``at`` (see ``settle``)."""
        heapq.heappush(self._pending, (at, len(self._pending), sender, to, word))

    def settle(self, now: float) -> None:
        """Apply the replies due by ``now``, each at its own time."""
        while self._pending and self._pending[0][0] <= now:
            at, _, sender, to, word = heapq.heappop(self._pending)
            self.inbound(sender, to, word, at)

    def inbound(self, own: str, recipient: str, text: str, at: float) -> Record | None:
        """An SMS from ``recipient`` to the account's number ``own``: a keyword opts the
        pair out or back in (source Recipient); any other text changes nothing."""
        word = text.strip().upper()
        status = OPT_OUT if word in STOP_WORDS else OPT_IN if word in START_WORDS else None
        if status is None:
            return None
        return self.set(own, recipient, status, "Recipient", at)

    # Reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._records)

    def records(self) -> Iterator[Record]:
        return iter(self._records)

    def page(self, query: Query, after: int, per_page: int) -> tuple[list[Record], int | None]:
        """The records matching ``query`` with a serial above ``after``, at most
        ``per_page``, and the serial to continue after (None: this was the last page)."""
        found: list[Record] = []
        for k in range(after, len(self._records)):  # no copy of the tail per page
            record = self._records[k]
            if query.matches(record):
                if len(found) == per_page:
                    return found, found[-1].serial
                found.append(record)
        return found, None

    def opted_out(self, sender: str, to: str, t: float) -> bool:
        return any(record is not None and record.status_at(t) == OPT_OUT
                   for record in (self._by_pair.get((sender, to)), self._by_account.get(to)))

    def blocked_candidates(self, sender: str, numbers: array[int]) -> array[int]:
        """Indexes of ``numbers`` that have any record with ``sender``: the only messages a
        consent can block (their status at a given time is ``opted_out``)."""
        targets = self._by_sender.get(sender, set())
        if self._account_targets:
            targets = targets | self._account_targets
        if not targets:
            return array("q")
        return array("q", (i for i, n in enumerate(numbers) if n in targets))


@dataclass(slots=True)
class BatchConsent:
    """What the consent records do to one batch's messages: a message to a pair opted out
    when it is processed fails ``SMS-RC-413`` (charged or not, by the settings)."""

    store: ConsentStore
    sender: str
    charged: bool
    _candidates: array[int] = field(default_factory=lambda: array("q"))
    _version: int = -1

    def candidates(self, numbers: array[int], now: float) -> array[int]:
        """Sorted indexes of the messages a consent record may block (see ``blocked``)."""
        self.store.settle(now)
        if self._version != self.store.version:
            self._candidates = self.store.blocked_candidates(self.sender, numbers)
            self._version = self.store.version
        return self._candidates

    def blocked(self, numbers: array[int], i: int, processed_at: float, now: float) -> bool:
        """Whether message ``i``, processed at ``processed_at``, met an opt-out."""
        candidates = self.candidates(numbers, now)
        k = bisect_left(candidates, i)
        if k == len(candidates) or candidates[k] != i:
            return False
        return self.store.opted_out(self.sender, f"+{numbers[i]}", processed_at)
