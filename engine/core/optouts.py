"""The pure half of ``a2p optouts``: the rows a pulled suppression file holds, and the
requests a push makes with what their answers say about each line.

No I/O here: engine/rc/optouts.py makes the requests, engine/run/optouts.py reads and writes
the files.

A pulled file is a CSV the ``--suppress`` reader takes back: its number column is ``to``
(the recipient who opted out), beside ``from`` (the account's number they opted out of),
``optStatus``, ``source`` and ``lastModifiedTime`` (SmsOptRecord,
reference/ringcentral-preflight-openapi.json).

A push sends ``PATCH .../sms/consents`` bodies of at most 1,000 records
(UpdateOptRecordList.records maxItems), each record ``{from, to, optStatus: OptOut, source:
Api}``; ``from`` ``*`` means every number of the account (RingCentral's consent guide). The
answer's ``failedRecords`` name their ``to``: each is matched back to the line it came from.

>>> push = PushRequests("*")
>>> push.add("+14155550100", 3)
>>> [body["records"][0]["to"] for body, _ in push.flush()]
['+14155550100']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

MAX_RECORDS = 1000  # UpdateOptRecordList.records: maxItems 1000
PER_PAGE = 1000  # PerPage: "the maximum value is 1000"
OPT_OUT, OPT_IN = "OptOut", "OptIn"
# SmsOptStatusEnum, by its letters whatever their case: any other status is refused, never
# read as "not opted out" (a record written ``optout`` would be texted)
STATUSES = {OPT_OUT.casefold(): OPT_OUT, OPT_IN.casefold(): OPT_IN}
PUSH_SOURCE = "Api"  # SmsOptSourceEnum: the record was set through the API, not by a reply
EVERY_SENDER = "*"
# --suppress-scope and `a2p optouts pull --scope`
Scope = Literal["account", "pair"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
COLUMNS = ("to", "from", "optStatus", "source", "lastModifiedTime")
# SmsConsentCoverageEnum: a record of coverage Account applies to every number of the
# account, whatever its ``from`` (the export writes it "Company": "Account is returned as
# Company")
ACCOUNT_COVERAGES = frozenset({"Account", "Company"})
CAMPAIGN_COVERAGE = "CampaignType"
# An extension after a number (``ext. 1``, ``x1``, ``;ext=1``): the number without it is
# the one a text reaches, so an opt-out of it suppresses the number
EXTENSION = re.compile(r"\s*(?:;\s*ext=|,?\s*(?:ext\.?|extension|x)\s*)\d+\s*$",
                       re.IGNORECASE)


def without_extension(number: str) -> str:
    """``number`` without a trailing extension (``+14155550100 ext. 1``: +14155550100)."""
    return EXTENSION.sub("", number) if any(c.isdigit() for c in number) else number


def status_of(value: object) -> str:
    """OptOut or OptIn, whatever the case of its letters; any other value (or none) is a
    ValueError naming it: a status the engine cannot read must stop the read, never leave
    an opt-out out."""
    status = STATUSES.get(value.strip().casefold()) if isinstance(value, str) else None
    if status is None:
        raise ValueError(f"its status {value!r} is neither {OPT_OUT} nor {OPT_IN}")
    return status


def search_bodies(scope: str, sender: str | None) -> list[dict[str, Any]]:
    """The searches (``POST .../sms/consents/search``, first page) that find the opt-outs
    of the account (``account``: one), or those keeping ``sender`` from texting (``pair``:
    the pair's, ``from`` the sender; the account-wide ones, coverage Account, which a
    ``from`` filter would miss when they were taken on another number; and those of
    coverage CampaignType, which the spec's ``from`` filter may not reach either)."""
    if scope not in SCOPES:
        raise ValueError(scope)
    body: dict[str, Any] = {"optStatus": OPT_OUT, "perPage": PER_PAGE}
    if scope == "account":
        return [body]
    if sender is None:
        raise ValueError("a pair scope needs the sender")
    return [{**body, "from": [sender]}, {**body, "coverage": ["Account"]},
            {**body, "coverage": [CAMPAIGN_COVERAGE]}]


def search_body(scope: str, sender: str | None, token: str | None) -> dict[str, Any]:
    """The body of one page of the (first) search ``search_bodies`` makes."""
    body = search_bodies(scope, sender)[0]
    return {**body, "pageToken": token} if token else body


def record_sender(record: Mapping[str, Any]) -> str:
    """The number a searched record keeps from texting: its ``from``, or ``*`` (every
    number of the account) for coverage Account or a record without one."""
    frm = record.get("from")
    if record.get("coverage") in ACCOUNT_COVERAGES or not isinstance(frm, str) or not frm:
        return EVERY_SENDER
    return frm


def wanted(record: Mapping[str, Any], scope: str, sender: str | None) -> bool:
    """Whether a searched record is an opt-out with a recipient that ``scope`` needs for
    ``sender`` (checked here, whatever the search asked: a server that ignored a filter
    must not widen what is suppressed or pulled). The one rule for a pull and a send. A
    status neither OptOut nor OptIn is a ValueError (``status_of``)."""
    to = record.get("to")
    if status_of(record.get("optStatus")) != OPT_OUT or not isinstance(to, str) or not to:
        return False
    return scope == "account" or record_sender(record) in (sender, EVERY_SENDER)


def pulled_row(record: Mapping[str, Any], scope: str, sender: str | None
               ) -> tuple[str, ...] | None:
    """The file row of one searched record, or None when ``wanted`` says no. A record of
    coverage Account is written with ``from`` ``*``."""
    if not wanted(record, scope, sender):
        return None
    row = {**record, "from": record_sender(record), "optStatus": OPT_OUT,
           "to": without_extension(str(record["to"]))}
    return tuple("" if row.get(k) is None else str(row.get(k)) for k in COLUMNS)


def checked(records: Iterable[Mapping[str, Any]], where: str) -> None:
    """A ValueError naming the first searched record (``where``: its page) whose status is
    neither OptOut nor OptIn: a search for opt-outs must bring nothing the engine cannot
    read, or a record it skipped could be an opt-out."""
    for k, record in enumerate(records, 1):
        try:
            status_of(record.get("optStatus") if isinstance(record, Mapping) else None)
        except ValueError as exc:
            to = record.get("to") if isinstance(record, Mapping) else None
            raise ValueError(f"record {k} of {where} (to {to!r}): {exc}") from None


def account_wide(record: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """The key of a record of a coverage wider than its pair (Account, CampaignType), by
    which a pair read's later searches drop what an earlier one brought; None for a pair's."""
    coverage = record.get("coverage")
    if coverage not in ACCOUNT_COVERAGES and coverage != CAMPAIGN_COVERAGE:
        return None
    return (str(record.get("to")), str(record.get("from")), str(coverage))


@dataclass(frozen=True, slots=True)
class Failure:
    """One line of the pushed file that did not become an opt-out on RingCentral."""

    line: int | None
    to: str
    code: str
    message: str
    last: int | None = None  # a PATCH refused whole: the last line it carried
    numbers: int = 1  # numbers the failure leaves not opted out

    def __str__(self) -> str:
        if self.last is not None:
            named = f" (it names {self.to})" if self.to else ""
            return (f"lines {self.line:,}-{self.last:,} ({self.numbers:,} numbers): the PATCH "
                    f"carrying them was refused whole{named}: {self.code}: {self.message}")
        where = f"line {self.line}" if self.line is not None else "a line not found again"
        return f"{where}: {self.to}: {self.code}: {self.message}"


class PushRequests:
    """Numbers (with their lines) in, PATCH bodies of at most ``size`` records out; a number
    repeated in the file is pushed once a request, at its first line."""

    def __init__(self, sender: str, size: int = MAX_RECORDS) -> None:
        if not 1 <= size <= MAX_RECORDS:
            raise ValueError(f"size {size} is outside 1..{MAX_RECORDS}")
        self.sender = sender
        self.size = size
        self._lines: dict[str, int] = {}

    def add(self, number: str, line: int) -> bool:
        """Take one number; True when a request is full (``flush`` it)."""
        self._lines.setdefault(number, line)
        return len(self._lines) >= self.size

    def flush(self) -> Iterator[tuple[dict[str, Any], dict[str, int]]]:
        """The waiting request's body and its number -> line map (nothing when empty)."""
        if not self._lines:
            return
        lines, self._lines = self._lines, {}
        yield {"records": [{"from": self.sender, "to": to, "optStatus": OPT_OUT,
                            "source": PUSH_SOURCE} for to in lines]}, lines


# The parameter a refusal names, in RingCentral's message ("Parameter [records[2].to] value
# is invalid."): the record at that index of the body
NAMED_RECORD = re.compile(r"records\[(\d+)\]")


def refused_whole(lines: Mapping[str, int], code: str, message: str) -> Failure:
    """A PATCH answered with a 4xx: none of its records is known applied. The failure covers
    the lines its numbers came from (``lines``, in the body's order) and, when the message
    names one record (``records[k]``), that record's line and number."""
    order = list(lines)
    named = NAMED_RECORD.search(message)
    to = ""
    if named is not None and int(named.group(1)) < len(order):
        to = order[int(named.group(1))]
        to = f"record {named.group(1)}, line {lines[to]:,}: {to}"
    return Failure(min(lines.values()), to, code, message, max(lines.values()), len(lines))


def failures(answer: Any, lines: Mapping[str, int]) -> list[Failure]:
    """The ``failedRecords`` of a PATCH answer, each with the line its number came from
    (OptRecordsModificationSummary; an answer without it: every record applied)."""
    failed = answer.get("failedRecords") if isinstance(answer, Mapping) else None
    found = []
    for record in failed if isinstance(failed, list) else []:
        if not isinstance(record, Mapping):
            continue
        to = str(record.get("to", ""))
        error = record.get("error")
        error = error if isinstance(error, Mapping) else {}
        found.append(Failure(lines.get(to), to, str(error.get("errorCode", "unknown")),
                             str(error.get("message", "refused, with no message"))))
    return found
