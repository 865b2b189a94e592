"""engine/core/optouts.py: the search a pull makes, the rows it writes, the PATCH bodies a
push makes and the lines its failures are reported at, without a server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.core.optouts import (
    MAX_RECORDS,
    Failure,
    PushRequests,
    checked,
    failures,
    pulled_row,
    refused_whole,
    search_bodies,
    search_body,
    wanted,
    without_extension,
)
from tests.fakes import MockTransport, settings

SENDER = "+16505550100"


def test_a_pair_search_filters_by_the_sender_and_an_account_search_does_not() -> None:
    """Both ask for opt-outs 1,000 a page; only the pair scope names the sender."""
    assert search_body("account", None, None) == {"optStatus": "OptOut", "perPage": 1000}
    assert search_body("pair", SENDER, "tok") == {"optStatus": "OptOut", "perPage": 1000,
                                                  "from": [SENDER], "pageToken": "tok"}
    with pytest.raises(ValueError, match="sender"):
        search_body("pair", None, None)


def test_pulled_rows_keep_only_the_scopes_opt_outs() -> None:
    """An opt-out becomes a row with its number first; an opt-in, a record without a number
    or (pair scope) another sender's record is left out."""
    record = {"from": SENDER, "to": "+14155550100", "optStatus": "OptOut",
              "source": "Recipient", "lastModifiedTime": "2026-01-02T03:04:05Z"}
    assert pulled_row(record, "account", None) == (
        "+14155550100", SENDER, "OptOut", "Recipient", "2026-01-02T03:04:05Z")
    assert pulled_row({**record, "optStatus": "OptIn"}, "account", None) is None
    assert pulled_row({**record, "to": None}, "account", None) is None
    assert pulled_row({**record, "from": "+16505550101"}, "pair", SENDER) is None
    assert pulled_row({**record, "from": "+16505550101"}, "account", None) is not None


def test_push_bodies_hold_at_most_1000_records_each_number_once() -> None:
    """2,345 numbers make bodies of 1,000, 1,000 and 345 OptOut records from the sender; a
    number repeated within a body is sent once, at its first line."""
    requests = PushRequests("*")
    bodies: list[tuple[dict[str, Any], dict[str, int]]] = []
    for line, k in enumerate([0, 0, *range(1, 2345)], 1):
        if requests.add(f"+1415{k:07d}", line):
            bodies.extend(requests.flush())
    bodies.extend(requests.flush())
    assert [len(body["records"]) for body, _ in bodies] == [1000, 1000, 345]
    first_body, first_lines = bodies[0]
    assert first_lines["+14150000000"] == 1
    assert first_body["records"][0] == {"from": "*", "to": "+14150000000",
                                        "optStatus": "OptOut", "source": "Api"}
    assert list(requests.flush()) == []
    with pytest.raises(ValueError, match="outside"):
        PushRequests("*", MAX_RECORDS + 1)


def test_failed_records_are_reported_at_their_lines() -> None:
    """Each failedRecords entry names its number's line, code and message; an answer with
    none means every record was applied."""
    answer = {"failedRecords": [{"from": SENDER, "to": "+14155550101", "optStatus": "OptOut",
                                 "source": "Api", "error": {"errorCode": "CMN-102",
                                                            "message": "not found"}}]}
    found = failures(answer, {"+14155550100": 2, "+14155550101": 7})
    assert found == [Failure(7, "+14155550101", "CMN-102", "not found")]
    assert str(found[0]) == "line 7: +14155550101: CMN-102: not found"
    assert failures({}, {"+14155550100": 2}) == []


def test_account_coverage_records_cover_every_sender() -> None:
    """A record of coverage Account, taken on another number, is kept by a pair pull (from
    ``*``) and read as an opt-out of every sender, as the export reads it."""
    from engine.core.consent import from_search

    record = {"to": "+14155550100", "from": "+16505550101", "optStatus": "OptOut",
              "source": "Api", "coverage": "Account", "lastModifiedTime": "2026-01-01T00:00:00Z"}
    row = pulled_row(record, "pair", SENDER)
    assert row is not None
    assert row[:2] == ("+14155550100", "*")
    assert pulled_row({**record, "coverage": "PhoneNumber"}, "pair", SENDER) is None
    assert [r.sender for r in from_search([record])] == ["*"]
    assert search_bodies("pair", SENDER) == [
        {"optStatus": "OptOut", "perPage": 1000, "from": [SENDER]},
        {"optStatus": "OptOut", "perPage": 1000, "coverage": ["Account"]},
        {"optStatus": "OptOut", "perPage": 1000, "coverage": ["CampaignType"]}]


async def test_push_and_pull_refuse_a_sender_not_in_e164(tmp_path: Path) -> None:
    """--from without its country code is refused before any request, naming the option."""
    from engine.errors import UsageError
    from engine.run.optouts import pull, push

    listed = tmp_path / "stop.csv"
    listed.write_text("to\n+14155550100\n")
    transport = MockTransport(lambda request: AssertionError("no request may be made"))
    with pytest.raises(UsageError, match=r"--from '6505550100' is not an E\.164"):
        await push(listed, sender="6505550100", config=settings(), transport=transport)
    with pytest.raises(UsageError, match=r"--from '6505550100' is not an E\.164"):
        await pull(tmp_path / "out.csv", scope="pair", sender="6505550100", config=settings(),
                   transport=transport)
    assert transport.requests == []


def test_a_status_in_any_case_is_read_and_any_other_is_refused() -> None:
    """optout/OPTOUT are opt-outs and optin an opt-in; Opt-Out or no optStatus is a
    ValueError naming the value and the record, never a record silently left out."""
    record = {"from": SENDER, "to": "+14155550100", "optStatus": "optout"}
    assert wanted(record, "account", None)
    assert wanted({**record, "optStatus": "OPTOUT"}, "pair", SENDER)
    assert not wanted({**record, "optStatus": "optin"}, "account", None)
    row = pulled_row({**record, "optStatus": "OPTOUT"}, "account", None)
    assert row is not None
    assert row[2] == "OptOut"
    for bad in ("Opt-Out", None, ""):
        with pytest.raises(ValueError, match=f"status {bad!r} is neither"):
            wanted({**record, "optStatus": bad}, "account", None)
    no_status = {k: v for k, v in record.items() if k != "optStatus"}
    with pytest.raises(ValueError, match=r"record 2 of page 1 .*'\+14155550100'.*None"):
        checked([record, no_status], "page 1")
    checked([record, {**record, "optStatus": "OptIn"}], "page 1")


def test_an_extension_is_dropped_from_an_opted_out_number() -> None:
    """+14155550100 ext. 1, x1, ;ext=1 opt out +14155550100 (the number a text reaches)."""
    for written in ("+14155550100 ext. 1", "+14155550100 x1", "+14155550100;ext=1",
                    "+1 415 555 0100 extension 12", "+14155550100X 7"):
        assert without_extension(written).replace(" ", "") == "+14155550100", written
    assert without_extension("+14155550100") == "+14155550100"
    row = pulled_row({"to": "+14155550100 ext. 1", "optStatus": "OptOut"}, "account", None)
    assert row is not None
    assert row[0] == "+14155550100"


def test_a_patch_refused_whole_names_its_lines_and_the_record_it_names() -> None:
    """A 4xx to a PATCH covers every line it carried (first to last) and, when the message
    names records[k], that record's line and number."""
    lines = {"+14155550100": 2001, "+14155550101": 2002, "+14155550102": 3000}
    whole = refused_whole(lines, "CMN-101", "Parameter [records[1].to] value is invalid.")
    assert (whole.line, whole.last, whole.numbers) == (2001, 3000, 3)
    assert str(whole).startswith("lines 2,001-3,000 (3 numbers): the PATCH carrying them "
                                 "was refused whole (it names record 1, line 2,002: "
                                 "+14155550101): CMN-101: ")
    plain = refused_whole(lines, "CMN-101", "Parameter [records] value is invalid.")
    assert "names" not in str(plain)
