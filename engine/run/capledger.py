"""The daily cap's ledger read from the journal (issue 22 item 4): what each Pacific day
carried, what a round may still send, and the carrier-cap halt.

A chunk counts on the day of the attempt that may have created it: a chunk is sent again only
after a proof that its earlier attempt created nothing (a lost answer looked for, a 5xx or a
refusal that creates nothing), so its LAST ``submittedAt`` is the one that counts. That
holds only under ``on_ambiguous`` reconcile or fail: resend POSTs again without the proof, so
a capped send refuses it (``scheduling.check_resend_cap``). A chunk caught in flight by a
stop on another day is resent, if its earlier attempt proves absent, on the round's day:
its messages are taken from that day's allowance before the round reads any new recipient,
and a caught chunk that does not fit what the day has left is held (never POSTed) until a day
it fits. So no Pacific day carries more than the cap, whatever the
timing of kills and resumes.

The carrier-cap halt: the day's batches showing SMS-CAR-450/451/452 above the threshold of
what they processed end the day for the sender, read from the journal between rounds and, as
batch statuses arrive, inside a round (``CarrierWatch``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from engine.core import lifecycle
from engine.run.events import RunWarning
from engine.run.journal import read_journal
from engine.run.recorder import Recorder
from engine.run.report import ChunkRecord
from engine.run.resume import recovers
from engine.schedule.caps import (
    CARRIER_CAP_CODES,
    Halt,
    cap_day,
    carrier_cap_halt,
    day_start,
    next_day,
)

# the states a chunk may have been sent in: the cap counts them
MAY_BE_SENT = frozenset({lifecycle.SUBMITTING, lifecycle.AMBIGUOUS, lifecycle.ACCEPTED,
                         lifecycle.COMPLETED, lifecycle.UNKNOWN})

Dated = tuple[datetime, Mapping[str, Any]]


def sent_chunks(journal: Path) -> list[Dated]:
    """(last submittedAt, folded entry) of every chunk of the journal that may have been
    sent (in flight, accepted, completed, unknown): the attempt that may have created it is
    its last, since an attempt is made again only once the one before is proved to have
    created nothing."""
    state = read_journal(journal)
    last: dict[int, str] = {}
    with journal.open("rb") as handle:
        for line in handle:
            if not line.startswith(b'{"type":"state"') or line.find(b'"submittedAt"') < 0:
                continue
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a torn last line: read_journal drops it too
            when = entry.get("submittedAt")
            if when:
                last[entry["chunk"]] = when
    return [(datetime.fromisoformat(last[number]).astimezone(UTC), chunk)
            for number, chunk in state.chunks.items()
            if chunk.get("status") in MAY_BE_SENT and number in last]


def cap_ledger(chunks: Iterable[Dated]) -> list[tuple[datetime, int]]:
    """What the daily cap counts: (last submittedAt, messages) of each chunk sent."""
    return [(when, int(chunk.get("messages", 0))) for when, chunk in chunks]


def caught(chunks: Iterable[Dated]) -> list[tuple[int, datetime, int]]:
    """(chunk, last submittedAt, messages) of the chunks a resume recovers: in flight, or
    unknown and looked for again; each may be sent again if proved not created."""
    return sorted((int(chunk["chunk"]), when, int(chunk.get("messages", 0)))
                  for when, chunk in chunks if recovers(chunk))


@dataclass(frozen=True, slots=True)
class RoundCap:
    """A round's share of the day's cap: ``allowed`` new recipients (None: no cap), once the
    caught chunks it may resend today are taken off; ``held``, the caught chunks that do not
    fit what the day has left (never POSTed this round)."""

    allowed: int | None
    held: frozenset[int] = frozenset()
    held_messages: int = 0
    caught: frozenset[int] = frozenset()  # every caught chunk (a round that settles none
    #                                       and sends nobody has made no progress)

    def admits(self, number: int) -> bool:
        return number not in self.held


NO_CAP = RoundCap(None)


def round_cap(cap: int | None, chunks: Iterable[Dated], now: datetime,
              others: Iterable[tuple[datetime, int]] = ()) -> RoundCap:
    """The round's share at ``now``: the day's allowance (the cap less what the day carried,
    ``others``' too: the sender's batches of other runs, engine/run/brandcap.py), less the
    caught chunks dated another day, each kept while it fits, in chunk order; a caught chunk
    dated today is in the day's ledger already."""
    dated = list(chunks)
    day = cap_day(cap, [*cap_ledger(dated), *others], now)
    recovered = caught(dated)
    numbers = frozenset(number for number, _, _ in recovered)
    if day.allowed is None:
        return RoundCap(None, caught=numbers)
    left, held, held_messages = day.allowed, set(), 0
    for number, when, messages in recovered:
        if day.starts <= when < day.ends:
            continue
        if messages <= left:
            left -= messages
        else:
            held.add(number)
            held_messages += messages
    return RoundCap(left, frozenset(held), held_messages, numbers)


def day_failures(chunks: Iterable[tuple[datetime, int, Mapping[str, int]]], now: datetime
                 ) -> tuple[int, int]:
    """(messages processed, carrier daily-cap failures) of the batches dated on the cap day
    of ``now``, from (submittedAt, processedCount, errorCodeCounts)."""
    starts, ends = day_start(now), next_day(now)
    processed = failures = 0
    for when, count, codes in chunks:
        if starts <= when < ends:
            processed += count
            failures += sum(int(n) for code, n in codes.items() if code in CARRIER_CAP_CODES)
    return processed, failures


def carrier_halt(chunks: Iterable[Dated], now: datetime) -> Halt | None:
    """A Halt until the next cap day when the day's batches, as last journaled, show carrier
    daily-cap failures (SMS-CAR-450/451/452) above 0.5 % of the messages they processed."""
    processed, failures = day_failures(
        ((when, int(chunk.get("processedCount") or 0), chunk.get("errorCodeCounts") or {})
         for when, chunk in chunks), now)
    return carrier_cap_halt(processed, failures, now)


class CarrierWatch:
    """The carrier-cap halt inside a round: called with each batch whose statuses were just
    read (the tracker), it adds up the day's batches as the run now knows them and answers
    the Halt the first time the failures pass the threshold (None otherwise, and after)."""

    def __init__(self, records: Mapping[int, ChunkRecord], now: Callable[[], datetime]
                 ) -> None:
        self._records = records
        self._now = now
        self.halt: Halt | None = None

    def __call__(self, record: ChunkRecord) -> Halt | None:
        if self.halt is not None or not any(c in CARRIER_CAP_CODES for c in record.error_codes):
            return None
        now = self._now()
        self.halt = carrier_cap_halt(*day_failures(
            ((datetime.fromisoformat(r.submitted_at).astimezone(UTC), r.processed,
              r.error_codes) for r in self._records.values() if r.submitted_at), now), now)
        return self.halt


def carrier_watch(recorder: Recorder, notes: list[str], wall: Callable[[], float],
                  stop_posting: Callable[[], None]
                  ) -> Callable[[ChunkRecord], Awaitable[None]]:
    """The tracker's hook for a scheduled round: when the day's SMS-CAR-450/451/452
    failures pass the threshold, no chunk is POSTed from now on (``stop_posting``), the
    batches that show them are journaled with their counts (receipts read after completion
    are not otherwise: the next round's survey reads the halt there), a ``warning`` says why,
    and ``notes`` (the report's warnings) too."""
    watch = CarrierWatch(recorder.records, lambda: datetime.fromtimestamp(wall(), UTC))

    async def on_statuses(record: ChunkRecord) -> None:
        halt = watch(record)
        if halt is None:
            return
        stop_posting()
        for each in recorder.records.values():
            if each.state == lifecycle.COMPLETED and \
                    not CARRIER_CAP_CODES.isdisjoint(each.error_codes):
                recorder.save(each)
        notes.append(halt.reason)
        await recorder.emit(RunWarning("carrier-cap", halt.reason))

    return on_statuses
