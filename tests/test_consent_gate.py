"""The consent gate (engine/run/gate.py): suppressed recipients leave the blocks as
LCL-OPTED-OUT rejections naming consent, handed on with the reader's own rejections in
position order; blocks read again drop what a gate rejected before."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import engine
from engine.core.consent import CONSENT_MARK, OptOut
from engine.core.optouts import EVERY_SENDER
from engine.core.rejections import INVALID_NUMBER, OPTED_OUT, Rejection
from engine.rc.transport import Reply
from engine.reading import Block
from engine.reading.consentset import ConsentSet
from engine.run.gate import Gate
from tests.fakes import (
    CREDENTIALS,
    NO_CONSENTS,
    FakeA2P,
    FakeClock,
    MockTransport,
    Request,
    settings,
)

ME = "+16505550100"


def block(start: int, numbers: list[str]) -> Block:
    return Block(numbers, None, list(range(start, start + len(numbers))),
                 [p + 2 for p in range(start, start + len(numbers))])


def test_gate_takes_out_suppressed_and_hands_on_in_order() -> None:
    """The reader's rejections and the gate's come out by position, the block loses the
    suppressed recipient, and the rejection names consent, the sender and the time."""
    out: list[Rejection] = []
    consents = ConsentSet([OptOut("+14155550101", ME, "2026-01-01T00:00:00Z")])
    gate = Gate(consents, out.append)

    def blocks() -> list[Block]:
        # the reader rejects position 3 while reading the first block, 6 after it
        gate.hold(Rejection(3, 5, "x", INVALID_NUMBER, "bad"))
        first = block(0, ["+14155550100", "+14155550101", "+14155550102"])
        return [first]

    kept = list(gate.apply(blocks()))
    gate.hold(Rejection(6, 8, "y", INVALID_NUMBER, "bad"))
    gate.release()
    assert [b.tos for b in kept] == [["+14155550100", "+14155550102"]]
    assert [r.index for r in out] == [1, 3, 6]
    assert out[0].error_code == OPTED_OUT
    assert CONSENT_MARK in out[0].description
    assert ME in out[0].description
    assert "2026-01-01T00:00:00Z" in out[0].description
    assert set(gate.rejected) == {1}


def test_an_opted_out_recipient_keeps_its_column_zone() -> None:
    """A recipient the opt-outs suppress from a block read with --tz-column keeps its
    column zone on its rejection (a scheduled send places it there, not by its number);
    the zone is no part of the rejection's JSON or equality."""
    out: list[Rejection] = []
    gate = Gate(ConsentSet([OptOut("+12125550101", ME, "2026-01-01T00:00:00Z")]), out.append)
    zoned = Block(["+12125550100", "+12125550101"], None, [0, 1], [2, 3], None,
                  [None, "America/Los_Angeles"])
    list(gate.apply([zoned]))
    gate.release()
    assert [(r.index, r.zone) for r in out] == [(1, "America/Los_Angeles")]
    plain = Rejection(*out[0].fields())
    assert plain.zone is None
    assert plain == out[0]
    assert plain.as_json() == out[0].as_json()


def test_drop_takes_out_what_was_rejected_before() -> None:
    """Blocks read again (a resume, a lost answer's chunk) lose the positions a gate or the
    journal rejected, so they are the chunks as they were cut."""
    gate = Gate(ConsentSet([]), lambda r: None, known=frozenset({2}))
    gate.rejected.add(0)
    again = list(gate.drop([block(0, ["+14155550100", "+14155550101", "+14155550102",
                                      "+14155550103"])]))
    assert [b.positions for b in again] == [[1, 3]]
    assert next(iter(gate.drop([block(10, ["+14155550110"])]))).positions == [10]


async def test_bad_rows_reported_while_read_with_opt_outs_in_scope(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With opt-outs to apply, the reader's rejections still reach the run as the list is
    read (held at most one flush), and the opted-out recipient is never POSTed."""
    from engine.run import localqueue

    monkeypatch.setattr(localqueue, "FLUSH_AT", 100)
    rows, told, at_last = 3000, [], []
    fake = FakeA2P()
    export = Reply(200, {"ETag": '"1"'}, NO_CONSENTS.body +
                   f"+14155550100,{ME},OptOut,Recipient,PhoneNumber,,,2026-01-01\r\n".encode())

    def handler(request: Request) -> Any:
        return export if request.path.endswith("/sms/consents/export") else fake(request)

    async def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "rejected":
            told.append(event["index"])

    def items() -> Iterator[str]:
        for k in range(rows):
            if k == rows - 1:
                at_last.append(len(told))
            yield f"not a number {k}"
        yield "+14155550100"
        yield "+14155550101"

    clock = FakeClock()
    transport = MockTransport(handler)
    report = await engine.send(items(), sender=ME, text="Hi", config=settings(),
                               credentials=CREDENTIALS, transport=transport, clock=clock,
                               sleep=clock.sleep, preflight=False, on_event=on_event)
    assert at_last[0] >= rows - 200
    assert sorted(told) == list(range(rows + 1))
    assert report["totals"]["suppressed"] == {"consent": 1}
    assert [m["to"][0] for r in transport.sent("POST", "/batches")
            for m in r.json()["messages"]] == ["+14155550101"]


def test_consent_set_is_compact_and_describes_each_record_as_read() -> None:
    """200,000 opt-outs hold under 14 bytes each once read, and under 24 while read (no
    record objects kept: a million cost some 13 MB), and each suppressed recipient is still
    described with its sender and its time, to the second in UTC."""
    import gc
    import tracemalloc

    times = ["2026-03-01T12:00:00Z", "2026-03-01T12:00:01.250Z", "2026-03-01T14:00:02+02:00"]
    shown = ["2026-03-01T12:00:00Z", "2026-03-01T12:00:01Z", "2026-03-01T12:00:02Z"]

    def records() -> Iterator[OptOut]:
        for k in range(200_000):
            yield OptOut(f"+1212555{k % 10_000:04d}" if k < 10_000 else f"+1313{k:07d}",
                         ME if k % 3 else EVERY_SENDER, times[k % 3])

    tracemalloc.start()
    try:
        consents = ConsentSet(records())
        gc.collect()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(consents) == 200_000
    index = 600_000  # the set's bucket index: 512 KiB whatever its size
    assert held < 14 * 200_000 + index, held
    run = 4_000_000  # while built: a run of 65,536 slots sorted as Python integers
    assert peak < 24 * 200_000 + index + run, peak
    for k in range(3):
        text = consents.describe(f"+1212555{k:04d}")
        assert f"of {shown[k]})" in text
        assert (ME in text) == bool(k % 3)
    odd = ConsentSet([OptOut("+14155550100", ME, "yesterday"), OptOut("+14155550101", ME, ""),
                      OptOut("+14155550102", ME, "2026-01-01"),
                      OptOut("+14155550103", ME, "2026-01-02T10:00:00Z")])
    assert "of yesterday)" in odd.describe("+14155550100")
    assert "(RingCentral consent record)" in odd.describe("+14155550101")
    assert "of 2026-01-01T00:00:00)" in odd.describe("+14155550102")  # no zone: none shown
    assert "of 2026-01-02T10:00:00Z)" in odd.describe("+14155550103")


async def test_consent_numbers_written_otherwise_still_suppress(
        caplog: pytest.LogCaptureFixture) -> None:
    """A consent record's number without + or with spaces and dashes suppresses its
    recipient; one that is no number suppresses nobody, stops nothing, and is named in a
    warning."""
    fake = FakeA2P()
    rows = ["14155550100", "+1 415-555-0101", "(415) 555-0102", "not a number"]
    export = Reply(200, {"ETag": '"1"'}, NO_CONSENTS.body + "".join(
        f"{to},{ME},OptOut,Recipient,PhoneNumber,,,2026-01-01\r\n" for to in rows).encode())

    def handler(request: Request) -> Any:
        return export if request.path.endswith("/sms/consents/export") else fake(request)

    clock = FakeClock()
    transport = MockTransport(handler)
    items = [f"+1415555{k:04d}" for k in range(100, 105)]
    with caplog.at_level("WARNING"):
        report = await engine.send(items, sender=ME, text="Hi", config=settings(),
                                   credentials=CREDENTIALS, transport=transport, clock=clock,
                                   sleep=clock.sleep, preflight=False)
    assert report["totals"]["suppressed"] == {"consent": 3}
    assert [m["to"][0] for r in transport.sent("POST", "/batches")
            for m in r.json()["messages"]] == items[3:]
    assert any("'not a number'" in r.getMessage() for r in caplog.records)


def test_consent_times_without_a_zone_stay_compact() -> None:
    """200,000 opt-outs whose times carry no zone (as ISO 8601 allows) hold under 15 bytes
    each, not a string apiece."""
    import gc
    import tracemalloc

    tracemalloc.start()
    try:
        consents = ConsentSet(OptOut(f"+1313{k:07d}", ME, f"2026-01-{1 + k % 28:02d}")
                              for k in range(200_000))
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(consents) == 200_000
    assert held < 15 * 200_000 + 600_000, held  # the bucket index: 512 KiB
    assert "of 2026-01-08T00:00:00)" in consents.describe("+13130000007")
