"""For ``a2p outcomes`` of a scheduled send's journal (issue 22 item 7): where each recipient
is (its zone and where that came from: the list's column, libphonenumber, the area-code
table, or the every-zone fallback) and, for one the run has not sent, why, as the run's report
tells it: ``deferred`` with its next opening, ``daily-cap``, ``expired``
(engine/schedule/fates.py). Decided at the instant the caller's clock gives, with the cap
ledger and carrier halt the journal holds, and each key's windows as the run computes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from engine.reading.phone import Problem
from engine.results.rows import Unsent
from engine.run.capledger import cap_ledger, carrier_halt, sent_chunks
from engine.run.expiry import effective
from engine.schedule.caps import cap_day
from engine.schedule.fates import Fate, fate_of, reopening, states_of
from engine.schedule.forecast import zones_label
from engine.schedule.placement import Placement
from engine.schedule.waves import never_open, status_at
from engine.schedule.windows import SEND_LEAD, WindowKey, stamp, window_key
from engine.schedule.zones import FALLBACK, placer


class Where(NamedTuple):
    """A recipient's zones (as ``a2p plan`` and the report's byZone label them:
    ``America/Chicago+America/New_York`` for a number spanning zones, ``unknown (every US
    zone)`` for the fallback) and how they were found (column, libphonenumber, area-code,
    fallback)."""

    zone: str
    source: str


class Fates:
    """Each recipient's placement and fate in a scheduled journal at ``now``: placements
    cached by the Placer (by area code), fates by window key (a few dozen)."""

    def __init__(self, header: Mapping[str, Any], journal: Path, now: datetime) -> None:
        self.schedule = schedule = effective(journal, header)
        self._now = now
        self._journal = str(journal)
        self._placer = placer()
        sent = sent_chunks(journal)
        self._day = cap_day(schedule.cap, cap_ledger(sent), now)
        self._halt = carrier_halt(sent, now)
        self._decision = schedule.timing.decide(now)
        self._keys: dict[Placement, WindowKey] = {}
        self._fates: dict[WindowKey, Unsent] = {}

    def place(self, to: str | None, column: str | None = None) -> Placement | None:
        """Where the E.164 ``to`` is (``column``: its --tz-column cell); None: no number,
        or a cell that names no zone (a local rejection)."""
        if to is None:
            return None
        placed = self._placer(to, column)
        return None if isinstance(placed, Problem) else placed

    @staticmethod
    def where(placed: Placement) -> Where:
        return Where(zones_label(placed.zones), placed.source)

    def unsent(self, placed: Placement | None) -> Unsent:
        """The fate of a recipient not sent, by its key (the strictest, every-zone key when
        it has no placement)."""
        key = self._key(placed)
        found = self._fates.get(key)
        if found is None:
            found = self._fates[key] = self._decide(key)
        return found

    def _key(self, placed: Placement | None) -> WindowKey:
        placed = placed or FALLBACK
        key = self._keys.get(placed)
        if key is None:
            key = self._keys[placed] = window_key(placed, self.schedule.policy)
        return key

    def _decide(self, key: WindowKey) -> Unsent:
        schedule = self.schedule
        status = status_at([key], schedule.policy, self._now,
                           margin=timedelta(seconds=schedule.margin), until=schedule.expire_at,
                           lead=SEND_LEAD)
        never = never_open(status.closed, schedule.policy, self._now,
                           margin=timedelta(seconds=schedule.margin))
        fate: Fate = reopening(
            fate_of(states_of(status, never)[key], self._decision, self._day, self._halt,
                    schedule.at, self._now),
            key, schedule.policy, timedelta(seconds=schedule.margin), schedule.expire_at,
            SEND_LEAD)
        return Unsent(fate.describe(key, schedule.expire_at, self._journal), fate.kind,
                      None if fate.opens is None else stamp(fate.opens))

