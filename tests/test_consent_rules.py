"""The pure consent decisions (engine/core/consent.py): which opt-outs suppress under each
scope, how to read them for the fewest Light requests, when a cached read is good, and the
records parsed from the search and the export; and the count by source of the report."""

from __future__ import annotations

import pytest

from engine.core import consent as rules
from engine.core.aggregator import Aggregator, suppressed_by_source
from engine.core.consent import Cached, OptOut
from engine.core.rejections import OPTED_OUT, Rejection
from engine.errors import UsageError

ME, OTHER = "+16505550100", "+16505550101"


def test_scopes() -> None:
    """Account scope takes an opt-out to any number; pair only this sender's or the
    account-wide one."""
    mine, other, everyone = (OptOut("+14155550100", ME, ""), OptOut("+14155550101", OTHER, ""),
                             OptOut("+14155550102", "*", ""))
    records = [mine, other, everyone]
    assert rules.in_scope(records, "account", ME) == records
    assert rules.in_scope(records, "pair", ME) == [mine, everyone]
    with pytest.raises(UsageError, match=r"account .* or pair"):
        rules.check_scope("sender")


def test_search_costs_one_request_per_thousand() -> None:
    """100,000 opt-outs take 100 search requests; none or 1,000 take one."""
    assert [rules.search_requests(n) for n in (0, 1000, 1001, 100_000)] == [1, 1, 2, 100]


def test_first_read_is_the_export() -> None:
    """With nothing cached the export (one request whatever the count) is chosen."""
    assert rules.choose(None, "account", ME, 0.0, 900.0).method == rules.EXPORT


def test_cache_fresh_then_conditional_or_search() -> None:
    """A cache within the max age costs nothing; older, a large export is asked again with
    If-None-Match, and a set that fit one page is searched (scope pair: by sender)."""
    big = Cached(1000.0, rules.EXPORT, None, '"7"', 100_000)
    assert rules.choose(big, "account", ME, 1899.0, 900.0).method == rules.CACHED
    assert rules.choose(big, "account", ME, 1900.0, 900.0).method == rules.CONDITIONAL
    assert rules.choose(big, "account", ME, 999.0, 900.0).method == rules.CONDITIONAL  # clock back
    small = Cached(1000.0, rules.EXPORT, None, '"7"', 40)
    assert rules.choose(small, "pair", ME, 5000.0, 900.0) == rules.Choice(
        rules.SEARCH, ME, rules.choose(small, "pair", ME, 5000.0, 900.0).why)
    assert rules.choose(small, "account", ME, 5000.0, 900.0).sender_filter is None


def test_a_search_of_one_sender_does_not_serve_another_scope() -> None:
    """A cached search of --from alone holds too little for the account scope or another
    sender: it is read again."""
    pair = Cached(1000.0, rules.SEARCH, ME, None, 3)
    assert rules.choose(pair, "pair", ME, 1001.0, 900.0).method == rules.CACHED
    assert rules.choose(pair, "account", ME, 1001.0, 900.0).method == rules.EXPORT
    assert rules.choose(pair, "pair", OTHER, 1001.0, 900.0).method == rules.EXPORT


def test_export_rows_by_column_name() -> None:
    """The export's opt-outs are read by column name; opt-ins are left out and a Company
    coverage applies to every sender."""
    rows = [["Internal Party Number", "External Party Number", "Consent Status", "Source",
             "Coverage", "Campaign Type", "Notes", "Last Modified Time"],
            [ME, "+14155550100", "OptOut", "Recipient", "PhoneNumber", "", "", "2026-01-01"],
            [ME, "+14155550101", "OptIn", "Api", "PhoneNumber", "", "", "2026-01-02"],
            ["", "+14155550102", "OptOut", "Api", "Company", "", "", "2026-01-03"]]
    assert list(rules.from_export(rows)) == [
        OptOut("+14155550100", ME, "2026-01-01", "Recipient"),
        OptOut("+14155550102", "*", "2026-01-03", "Api")]
    with pytest.raises(ValueError, match="Consent Status"):
        rules.from_export([["External Party Number"]])


def test_search_records() -> None:
    """Search records: only OptOut ones, with their sender and time."""
    got = list(rules.from_search([
        {"from": ME, "to": "+14155550100", "optStatus": "OptOut", "lastModifiedTime": "t1"},
        {"from": ME, "to": "+14155550101", "optStatus": "OptIn", "lastModifiedTime": "t2"}]))
    assert got == [OptOut("+14155550100", ME, "t1")]  # no source given


def test_description_names_consent_sender_and_time() -> None:
    """The rejection says consent, the sender and the record's time."""
    text = rules.describe("+14155550100", OptOut("+14155550100", OTHER, "2026-03-01T00:00Z"))
    assert OTHER in text
    assert "2026-03-01T00:00Z" in text
    assert rules.CONSENT_MARK in text


def test_suppressed_counted_by_source() -> None:
    """A file's and a consent record's LCL-OPTED-OUT are counted apart, exactly, also when
    read back from a journal (descriptions written out)."""
    aggregator = Aggregator()
    aggregator.add_local(Rejection.explained(0, 1, "+14155550100", OPTED_OUT,
                                             lambda to: f"{to} is on the suppression list"))
    aggregator.add_local(Rejection(1, 2, "+14155550101", OPTED_OUT,
                                   rules.describe("+14155550101",
                                                  OptOut("+14155550101", ME, "t"))))
    aggregator.add_local(Rejection(2, 3, "+14155550102", OPTED_OUT,
                                   "+14155550102 is on the suppression list a.txt (line 3)"))
    assert suppressed_by_source(aggregator) == {"file": 2, "consent": 1}
    assert suppressed_by_source(Aggregator()) == {}


SPEC = ["External Party Number", "Internal Party Number", "Consent Status", "Source",
        "Coverage", "Campaign Type", "Notes", "Last Modified Time"]


def row(to: str, status: str, sender: str = ME) -> list[str]:
    return [to, sender, status, "Recipient", "PhoneNumber", "", "", "2026-01-01T00:00:00Z"]


def test_export_statuses_in_any_case_and_others_refused() -> None:
    """optout and OPTOUT are opt-outs, OPTIN an opt-in; Opt-Out or an empty status stops the
    read with a ValueError naming the value, its row and its recipient."""
    got = list(rules.from_export([SPEC, row("+14155550100", "optout"),
                                  row("+14155550101", "OPTOUT"), [],
                                  row("+14155550102", "OPTIN")]))
    assert [r.to for r in got] == ["+14155550100", "+14155550101"]
    for bad in ("Opt-Out", ""):
        rows = [SPEC, row("+14155550100", "OptOut"), row("+14155550101", bad)]
        with pytest.raises(ValueError, match=rf"data row 2 \(recipient '\+14155550101'\): "
                                             rf"its status {bad!r} is neither OptOut nor OptIn"):
            list(rules.from_export(rows))
    with pytest.raises(ValueError, match=r"data row 1 .*status ''"):
        list(rules.from_export([SPEC, ["+14155550100", ME]]))  # the row ends before it


def test_the_guides_header_and_any_case_of_the_specs_are_read() -> None:
    """FROM,TO,STATUS,SOURCE (FROM the account's number, TO the recipient) and a lower-case
    spec header are read; a header with neither is refused."""
    guide = [["from", "TO", "Status", "SOURCE"], [ME, "+14155550100", "OptOut", "Recipient"],
             [OTHER, "+14155550101", "OptIn", "Api"]]
    assert list(rules.from_export(guide)) == [OptOut("+14155550100", ME, "", "Recipient")]
    lower = [[name.lower() for name in SPEC], row("+14155550100", "OptOut")]
    assert [r.to for r in rules.from_export(lower)] == ["+14155550100"]
    with pytest.raises(ValueError, match="FROM,TO,STATUS,SOURCE"):
        rules.from_export([["Phone", "Opted"], ["+14155550100", "yes"]])


def test_an_extension_in_a_record_suppresses_the_number() -> None:
    """An export's or a search's opt-out of +14155550100 ext. 1 opts out +14155550100."""
    got = list(rules.from_export([SPEC, row("+14155550100 ext. 1", "OptOut"),
                                  row("+14155550101;ext=1", "OptOut")]))
    assert [r.to for r in got] == ["+14155550100", "+14155550101"]
    found = rules.from_search([{"from": ME, "to": "+14155550102 x1", "optStatus": "OptOut"}])
    assert [r.to for r in found] == ["+14155550102"]


def test_an_opt_out_of_the_sender_itself_says_the_columns_look_swapped() -> None:
    """A recipient equal to the sender: the message names both columns and the swap."""
    assert rules.swapped(OptOut("+14155550100", ME, ""), ME) is None
    seen = rules.swapped(OptOut(ME, "+14155550100", ""), ME)
    assert seen is not None
    assert "External Party Number" in seen
    assert "Internal Party Number" in seen
    assert "looks swapped" in seen


def test_a_pairs_latest_record_decides_when_the_export_lists_its_history() -> None:
    """An opt-out followed by the pair's opt-in is no longer in force; an opt-in followed by
    an opt-out, or an opt-in whose time cannot be compared, leaves the opt-out in force."""
    def at(to: str, status: str, when: str, sender: str = ME) -> list[str]:
        return [to, sender, status, "Recipient", "PhoneNumber", "", "", when]

    rows = [SPEC, at("+14155550100", "OptOut", "2026-03-01T12:00:00Z"),
            at("+14155550100", "OptIn", "2026-04-01T12:00:00Z"),
            at("+14155550101", "OptIn", "2026-03-01T12:00:00Z"),
            at("+14155550101", "OptOut", "2026-04-01T12:00:00Z"),
            at("+14155550102", "OptOut", "2026-03-01T12:00:00Z"),
            at("+14155550102", "OptIn", "yesterday"),
            at("+14155550103", "OptOut", "2026-03-01T12:00:00Z"),
            at("+14155550103", "OptIn", "2026-04-01T12:00:00Z", OTHER)]  # another pair's
    later = rules.opt_ins(rows)
    assert [r.to for r in rules.from_export(rows, later)] == [
        "+14155550101", "+14155550102", "+14155550103"]
    assert len(list(rules.from_export(rows))) == 4  # without the first pass: every opt-out
