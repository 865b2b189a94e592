"""The daily cap's ledger (engine/run/capledger.py), without a server: a chunk counts on the
day of the attempt that may have created it, a round's share leaves room for the caught
chunks it may resend, and the carrier-cap halt trips on the day's SMS-CAR-45x failures."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from engine.run.capledger import CarrierWatch, cap_ledger, day_failures, round_cap, sent_chunks
from engine.run.report import ChunkRecord
from engine.schedule.caps import cap_day


def chunk(n: int, messages: int) -> dict[str, Any]:
    return {"type": "chunk", "chunk": n, "firstIndex": n * 10, "lastIndex": n * 10 + 9,
            "messages": messages, "bytes": 1, "offset": None, "line": None}


def state(n: int, status: str, when: str | None) -> dict[str, Any]:
    return {"type": "state", "chunk": n, "status": status, "submittedAt": when}


def journal(tmp_path: Path, entries: list[dict[str, Any]]) -> Path:
    path = tmp_path / "j"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in
                             [{"type": "run", "version": 1, "runId": "r"}, *entries]))
    return path


def test_the_cap_ledger_counts_a_chunk_on_the_day_of_its_last_attempt(tmp_path: Path) -> None:
    """A chunk sent again (its first attempt proved to have created nothing: the journal
    does not record the proof, so a capped send refuses on_ambiguous resend, which sends
    without one) counts on the day of the attempt that may have created it, its last;
    chunks never sent or refused do not count."""
    path = journal(tmp_path, [
        chunk(1, 7), state(1, "submitting", "2026-11-20T07:59:00.000000Z"),
        state(1, "ambiguous", None),
        state(1, "submitting", "2026-11-20T08:01:00.000000Z"),
        state(1, "accepted", "2026-11-20T08:01:00.000000Z"),
        chunk(2, 5), state(2, "submitting", "2026-11-20T09:00:00.000000Z"),
        chunk(3, 4), state(3, "submitting", "2026-11-20T09:00:00.000000Z"),
        state(3, "failed", "2026-11-20T09:00:00.000000Z"),
        chunk(4, 9)])
    ledger = sorted(cap_ledger(sent_chunks(path)))
    assert ledger == [(datetime(2026, 11, 20, 8, 1, tzinfo=UTC), 7),
                      (datetime(2026, 11, 20, 9, 0, tzinfo=UTC), 5)]
    # 07:59 UTC is Nov 19 in Los Angeles, 08:01 Nov 20: the day from 00:00 Pacific carries both
    day = cap_day(20, ledger, datetime(2026, 11, 20, 12, tzinfo=UTC))
    assert (day.sent, day.allowed) == (12, 8)


def test_a_round_leaves_room_for_the_caught_chunks_it_may_resend(tmp_path: Path) -> None:
    """A chunk caught in flight on an earlier day may be resent today: its messages come off
    today's allowance before new recipients are read; one that does not fit is held; a
    caught chunk dated today is in today's ledger already."""
    friday = "2026-11-21T04:00:00.000000Z"  # Fri 20:00 Pacific
    path = journal(tmp_path, [
        chunk(1, 10), state(1, "submitting", friday), state(1, "accepted", friday),
        chunk(2, 10), state(2, "submitting", friday),  # caught at the kill, Friday
        chunk(3, 8), state(3, "ambiguous", friday),  # caught too
        chunk(4, 6), state(4, "accepted", "2026-11-21T17:00:00.000000Z")])  # Sat 09:00
    saturday = datetime(2026, 11, 21, 18, tzinfo=UTC)
    share = round_cap(20, sent_chunks(path), saturday)
    # Saturday: 6 sent (chunk 4), 14 left; chunk 2 (10) fits, then 4 left: chunk 3 (8) held
    assert share.allowed == 4
    assert share.held == {3}
    assert share.held_messages == 8
    assert share.admits(2)
    assert share.admits(4)
    assert not share.admits(3)
    assert round_cap(None, sent_chunks(path), saturday).allowed is None
    # on Friday itself both caught chunks are in Friday's ledger: nothing more is taken off
    friday_share = round_cap(40, sent_chunks(path), datetime(2026, 11, 21, 5, tzinfo=UTC))
    assert (friday_share.allowed, friday_share.held) == (12, frozenset())


def record(n: int, submitted: str, processed: int, codes: dict[str, int]) -> ChunkRecord:
    out = ChunkRecord(n, 0, processed - 1, processed, 1, state="accepted")
    out.submitted_at, out.processed, out.error_codes = submitted, processed, codes
    return out


def test_the_carrier_watch_halts_once_the_day_s_failures_pass_the_threshold() -> None:
    """As statuses arrive, the day's SMS-CAR-450/451/452 failures above 0.5 % of what the
    day's batches processed answer a Halt until 00:00 Pacific, once; failures of another
    day or of other codes do not count."""
    now = datetime(2026, 11, 20, 18, tzinfo=UTC)
    records = {1: record(1, "2026-11-20T07:00:00Z", 1000, {"SMS-CAR-450": 900}),  # Nov 19
               2: record(2, "2026-11-20T17:00:00Z", 1000, {"SMS-UP-410": 50})}
    watch = CarrierWatch(records, lambda: now)
    assert watch(records[2]) is None  # no carrier-cap code: nothing to look at
    records[3] = record(3, "2026-11-20T17:30:00Z", 1000, {"SMS-CAR-450": 10})
    assert watch(records[3]) is None  # 10 of 2,000: exactly 0.5 %, not above
    records[4] = record(4, "2026-11-20T17:40:00Z", 200, {"SMS-CAR-452": 2})
    halt = watch(records[4])
    assert halt is not None
    assert halt.until == datetime(2026, 11, 21, 8, tzinfo=UTC)
    assert "12 of the 2,200 messages" in halt.reason
    assert watch(records[4]) is None  # told once


def test_only_the_carrier_cap_codes_of_the_day_count() -> None:
    """SMS-CAR-450, 451 and 452 of the day's batches count as carrier-cap failures; other
    codes do not, and another Pacific day's batches count for neither figure."""
    now = datetime(2026, 11, 20, 18, tzinfo=UTC)
    codes = {"SMS-CAR-450": 1, "SMS-CAR-104": 5, "SMS-CAR-452": 1, "SMS-CAR-451": 1,
             "SMS-RC-413": 2}
    assert day_failures([(now, 100, codes), (datetime(2026, 11, 20, 7, tzinfo=UTC), 50, codes)],
                        now) == (100, 3)
