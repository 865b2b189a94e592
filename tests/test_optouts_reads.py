"""The opt-outs read as RingCentral may write them, over a scripted transport (no server): a
status in another case or none at all, the guide's FROM,TO,STATUS,SOURCE export, columns
swapped, numbers without their ``+``, a pair search whose ``from`` filter brings only the
pair's records; ``a2p optouts pull --out`` checked before any request and never leaving a
``.part``; a full disk named; a push whose PATCH is refused whole going on."""

from __future__ import annotations

import csv
import errno
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.core.optouts import Failure
from engine.errors import BadBodyError, ConsentError, EngineError, UsageError
from engine.rc.transport import Reply
from engine.run.optouts import pull, push
from engine.types import Report
from tests.fakes import TOKEN, FakeA2P, MockTransport, Request, reply
from tests.fakes import settings as fake_settings

ME, OTHER = "+16505550100", "+16505550101"
SPEC = ("External Party Number,Internal Party Number,Consent Status,Source,Coverage,"
        "Campaign Type,Notes,Last Modified Time")
LISTED = [f"+1415555{k:04d}" for k in range(10)]


def csv_reply(text: str) -> Reply:
    return Reply(200, {"ETag": '"1"', "Content-Type": "text/csv"}, text.encode())


def spec_export(rows: list[tuple[str, str, str]]) -> str:
    """The spec's export of (to, from, status) rows, each of coverage PhoneNumber."""
    return SPEC + "\r\n" + "".join(f"{to},{frm},{status},Recipient,PhoneNumber,,,"
                                   "2026-01-01T00:00:00Z\r\n" for to, frm, status in rows)


def serving(export: str) -> MockTransport:
    """A2P and consents in memory, the consent export answered with ``export``."""
    fake = FakeA2P()

    def handler(request: Request) -> Any:
        if request.path.endswith("/sms/consents/export"):
            return csv_reply(export)
        return fake(request)

    return MockTransport(handler)


async def send(transport: MockTransport) -> Report:
    return await engine.send(LISTED, sender=ME, text="Hi", config=fake_settings(),
                             credentials=DEMO_CREDENTIALS, transport=transport, preflight=False)


def posted(transport: MockTransport) -> list[str]:
    return [m["to"][0] for r in transport.sent("POST", "/batches") for m in r.json()["messages"]]


async def test_statuses_in_another_case_suppress_and_an_unknown_one_stops_the_send() -> None:
    """optout / OPTOUT in the export suppress their recipients; Opt-Out stops the run before
    any POST with an error naming the value and its row."""
    transport = serving(spec_export([(LISTED[1], ME, "optout"), (LISTED[2], OTHER, "OPTOUT")]))
    report = await send(transport)
    assert report["totals"]["suppressed"] == {"consent": 2}
    assert not {LISTED[1], LISTED[2]} & set(posted(transport))
    transport = serving(spec_export([(LISTED[1], ME, "OptOut"), (LISTED[2], ME, "Opt-Out")]))
    with pytest.raises(ConsentError, match=r"data row 2 \(recipient '\+14155550002'\): its "
                                           r"status 'Opt-Out' is neither OptOut nor OptIn"):
        await send(transport)
    assert transport.sent("POST", "/batches") == []


async def test_the_guides_export_suppresses() -> None:
    """An export in the form RingCentral's guide shows (FROM,TO,STATUS,SOURCE) is read:
    its opt-outs are suppressed, its opt-ins are not."""
    transport = serving(f"FROM,TO,STATUS,SOURCE\r\n{ME},{LISTED[3]},OptOut,Recipient\r\n"
                        f"{OTHER},{LISTED[4]},OptOut,Api\r\n{ME},{LISTED[5]},OptIn,Api")
    report = await send(transport)
    assert report["totals"]["suppressed"] == {"consent": 2}
    assert set(posted(transport)) == set(LISTED) - {LISTED[3], LISTED[4]}


async def test_an_export_with_its_party_columns_swapped_stops_the_send(tmp_path: Path) -> None:
    """An export whose recipient column holds the sender (the columns swapped) stops the
    send before any POST, and a pair pull, naming both columns."""
    swapped = spec_export([(ME, LISTED[1], "OptOut"), (ME, LISTED[2], "OptOut")])
    transport = serving(swapped)
    with pytest.raises(ConsentError, match=r"External Party Number.*Internal Party Number"):
        await send(transport)
    assert transport.sent("POST", "/batches") == []
    with pytest.raises(ConsentError, match="looks swapped"):
        await pull(tmp_path / "mine.csv", scope="pair", sender=ME, config=fake_settings(),
                   credentials=DEMO_CREDENTIALS, transport=serving(swapped))
    assert os.listdir(tmp_path) == []


async def test_a_pair_pull_of_the_export_reads_numbers_as_a_send_does(tmp_path: Path) -> None:
    """Numbers written without their + (16505550100) are the sender's: a pair pull writes
    them in E.164, as the send suppresses them."""
    export = spec_export([(LISTED[1][1:], ME[1:], "OptOut"), (LISTED[2], OTHER[1:], "OptOut")])
    out = tmp_path / "mine.csv"
    done = await pull(out, scope="pair", sender=ME, config=fake_settings(),
                      credentials=DEMO_CREDENTIALS, transport=serving(export))
    with out.open(newline="") as stream:
        rows = [(r["to"], r["from"]) for r in csv.DictReader(stream)]
    assert rows == [(LISTED[1], ME)]
    assert (done.records, done.skipped) == (1, 1)


def searching(pages: Callable[[dict[str, Any]], list[dict[str, Any]]]) -> MockTransport:
    """The consent search answered with ``pages(body)`` (one page)."""
    def handler(request: Request) -> Any:
        if request.path.startswith("/restapi/oauth/"):
            return TOKEN
        if request.path.endswith("/sms/consents/search"):
            return reply(200, {"records": pages(request.json()), "paging": {}})
        return AssertionError(f"unexpected {request.method} {request.path}")

    return MockTransport(handler)


async def test_a_search_record_without_a_known_status_stops_the_pull(tmp_path: Path) -> None:
    """A searched record without optStatus (or optout in lower case among them) is not left
    out as "not an opt-out": the pull fails naming it and writes nothing."""
    record = {"from": ME, "to": LISTED[1], "source": "Recipient",
              "lastModifiedTime": "2026-01-01T00:00:00Z"}
    out = tmp_path / "all.csv"
    done = await pull(out, via="search", config=fake_settings(), credentials=DEMO_CREDENTIALS,
                      transport=searching(lambda body: [{**record, "optStatus": "optout"}]))
    assert (done.records, done.skipped) == (1, 0)
    with pytest.raises(BadBodyError, match=r"record 1 of page 1 .*\+14155550001.*None"):
        await pull(out, via="search", config=fake_settings(), credentials=DEMO_CREDENTIALS,
                   transport=searching(lambda body: [record]))
    assert os.listdir(tmp_path) == ["all.csv"]


async def test_a_pair_search_keeps_account_and_campaign_opt_outs_taken_on_the_sender(
        tmp_path: Path) -> None:
    """A server whose ``from`` search brings only the pair's records: the account-wide
    opt-out taken on the sender and the campaign-type one from it come from the coverage
    searches, each written once; another sender's campaign-type opt-out is left out."""
    records = [
        {"from": ME, "to": LISTED[1], "coverage": "PhoneNumber"},
        {"from": ME, "to": LISTED[2], "coverage": "Account"},
        {"from": OTHER, "to": LISTED[3], "coverage": "Account"},
        {"from": ME, "to": LISTED[4], "coverage": "CampaignType"},
        {"from": OTHER, "to": LISTED[5], "coverage": "CampaignType"},
        {"from": OTHER, "to": LISTED[6], "coverage": "PhoneNumber"}]

    def pages(body: dict[str, Any]) -> list[dict[str, Any]]:
        wanted = body.get("coverage", ["PhoneNumber"])
        return [{**r, "optStatus": "OptOut", "source": "Api", "lastModifiedTime": "t"}
                for r in records if r["coverage"] in wanted
                and ("from" not in body or r["from"] in body["from"])]

    out = tmp_path / "mine.csv"
    await pull(out, scope="pair", sender=ME, via="search", config=fake_settings(),
               credentials=DEMO_CREDENTIALS, transport=searching(pages))
    with out.open(newline="") as stream:
        rows = sorted((r["to"], r["from"]) for r in csv.DictReader(stream))
    assert rows == [(LISTED[1], ME), (LISTED[2], "*"), (LISTED[3], "*"), (LISTED[4], ME)]


async def test_pull_out_is_checked_before_any_request(tmp_path: Path) -> None:
    """A directory (with or without its slash), a device, a FIFO or a missing directory is
    refused before any request, and nothing is left behind."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "dir").mkdir()
    transport = MockTransport(lambda request: AssertionError("no request may be made"))
    for out, said in ((tmp_path / "dir", "is a directory"),
                      (f"{tmp_path / 'dir'}/", "is a directory"),
                      ("/dev/null", "not a regular file"), (fifo, "not a regular file"),
                      (tmp_path / "missing" / "x.csv", "does not exist")):
        with pytest.raises(UsageError, match=said):
            await pull(out, config=fake_settings(), credentials=DEMO_CREDENTIALS,
                       transport=transport)
    assert transport.requests == []
    assert sorted(os.listdir(tmp_path)) == ["dir", "fifo"]
    assert os.listdir(tmp_path / "dir") == []


async def test_a_pull_through_a_symlink_updates_its_target(tmp_path: Path) -> None:
    """--out a link: the file it points to gets the opt-outs, the link stays a link."""
    shared = tmp_path / "shared"
    shared.mkdir()
    master = shared / "dnc-master.csv"
    master.write_text("to\n+14155559999\n")
    link = tmp_path / "dnc.csv"
    link.symlink_to(master)
    await pull(link, config=fake_settings(), credentials=DEMO_CREDENTIALS,
               transport=serving(spec_export([(LISTED[1], ME, "OptOut")])))
    assert link.is_symlink()
    assert LISTED[1] in master.read_text()
    assert sorted(os.listdir(shared)) == ["dnc-master.csv"]


class FullSpool(io.BytesIO):
    """A temporary file on a full disk: it takes 100 bytes, then ENOSPC."""

    def write(self, data: Any) -> int:
        if self.tell() + len(data) > 100:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(data)


async def test_a_full_disk_is_named_with_its_fix(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The export's spool on a full disk: a ConsentError naming TMPDIR's directory and the
    fix, nothing sent. The pull's file outgrowing its limit: an error naming the file and
    the fix, no .part left, the old file as it was."""
    export = spec_export([(n, ME, "OptOut") for n in LISTED])
    with monkeypatch.context() as patched:
        patched.setattr("engine.rc.consents.tempfile.TemporaryFile", FullSpool)
        transport = serving(export)
        with pytest.raises(ConsentError, match=r"temporary file in .*No space left on device"
                                               r".*set TMPDIR"):
            await send(transport)
        assert transport.sent("POST", "/batches") == []

    real = csv.writer

    def limited(stream: Any, **kwargs: Any) -> Any:
        writer = real(stream, **kwargs)

        class Limited:
            rows = 0

            def writerow(self, row: Any) -> Any:
                Limited.rows += 1
                if Limited.rows > 2:
                    raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))
                return writer.writerow(row)

        return Limited()

    out = tmp_path / "p.csv"
    out.write_text("to\n+14155559999\n")
    monkeypatch.setattr("engine.run.optouts.csv.writer", limited)
    with pytest.raises(EngineError, match=r"p\.csv\.part could not be written \(File too "
                                          r"large, after 1 opt-outs\).*ulimit -f"):
        await pull(out, config=fake_settings(), credentials=DEMO_CREDENTIALS,
                   transport=serving(export))
    assert os.listdir(tmp_path) == ["p.csv"]
    assert out.read_text() == "to\n+14155559999\n"


async def test_a_patch_refused_whole_is_reported_and_the_push_goes_on(tmp_path: Path) -> None:
    """2,500 numbers, the second PATCH answered 400: its lines (1,002-2,001) are reported as
    one failure, the third PATCH is made, and 1,500 numbers count as opted out."""
    source = tmp_path / "stops.csv"
    source.write_text("to\n" + "".join(f"+1415{3_000_000 + k:07d}\n" for k in range(2500)))
    patches: list[int] = []

    def handler(request: Request) -> Any:
        if request.path.startswith("/restapi/oauth/"):
            return TOKEN
        assert request.method == "PATCH"
        patches.append(len(request.json()["records"]))
        if len(patches) == 2:
            return reply(400, {"errorCode": "CMN-101",
                               "message": "Parameter [records[3].to] value is invalid."})
        return reply(200, {})

    seen: list[Failure] = []
    done = await push(source, config=fake_settings(), credentials=DEMO_CREDENTIALS,
                      transport=MockTransport(handler), on_failure=seen.append)
    assert patches == [1000, 1000, 500]
    assert [(f.line, f.last, f.numbers) for f in seen] == [(1002, 2001, 1000)]
    assert "record 3, line 1,005: +14153001003" in str(seen[0])
    assert (done.numbers, done.failed, done.opted_out) == (2500, 1000, 1500)


async def test_an_opt_in_after_the_opt_out_in_the_export_lets_the_recipient_be_texted(
        ) -> None:
    """The export lists a pair's history: (X, OptOut, March) then (X, OptIn, April) texts X;
    (Y, OptIn, March) then (Y, OptOut, April) suppresses Y."""
    def at(to: str, status: str, when: str) -> str:
        return f"{to},{ME},{status},Recipient,PhoneNumber,,,{when}\r\n"

    transport = serving(SPEC + "\r\n" + at(LISTED[1], "OptOut", "2026-03-01T12:00:00Z")
                        + at(LISTED[1], "OptIn", "2026-04-01T12:00:00Z")
                        + at(LISTED[2], "OptIn", "2026-03-01T12:00:00Z")
                        + at(LISTED[2], "OptOut", "2026-04-01T12:00:00Z"))
    report = await send(transport)
    assert report["totals"]["suppressed"] == {"consent": 1}
    assert set(posted(transport)) == set(LISTED) - {LISTED[2]}


async def test_a_pair_search_naming_the_sender_as_a_recipient_stops_the_pull(
        tmp_path: Path) -> None:
    """A searched opt-out whose ``to`` is --from itself: the pull fails, the columns named,
    and nothing is written."""
    with pytest.raises(EngineError, match="looks swapped"):
        await pull(tmp_path / "mine.csv", scope="pair", sender=ME, via="search",
                   config=fake_settings(), credentials=DEMO_CREDENTIALS,
                   transport=searching(lambda body: [
                       {"from": ME, "to": ME, "optStatus": "OptOut", "coverage": "Account"}]))
    assert os.listdir(tmp_path) == []
