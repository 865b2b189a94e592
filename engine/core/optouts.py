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

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

MAX_RECORDS = 1000  # UpdateOptRecordList.records: maxItems 1000
PER_PAGE = 1000  # PerPage: "the maximum value is 1000"
OPT_OUT = "OptOut"
PUSH_SOURCE = "Api"  # SmsOptSourceEnum: the record was set through the API, not by a reply
EVERY_SENDER = "*"
SCOPES = ("pair", "account")
COLUMNS = ("to", "from", "optStatus", "source", "lastModifiedTime")


def search_body(scope: str, sender: str | None, token: str | None) -> dict[str, Any]:
    """The body of one ``POST .../sms/consents/search`` page: the opt-outs of the account
    (``account``), or only those to ``sender`` (``pair``)."""
    if scope not in SCOPES:
        raise ValueError(scope)
    body: dict[str, Any] = {"optStatus": OPT_OUT, "perPage": PER_PAGE}
    if scope == "pair":
        if sender is None:
            raise ValueError("a pair scope needs the sender")
        body["from"] = [sender]
    if token:
        body["pageToken"] = token
    return body


def pulled_row(record: Mapping[str, Any], scope: str, sender: str | None
               ) -> tuple[str, ...] | None:
    """The file row of one searched record, or None when it is not an opt-out the scope
    wants (checked again here: a server that ignored a filter must not widen the file) or
    has no number to suppress."""
    to, frm = record.get("to"), record.get("from")
    if not isinstance(to, str) or not to or record.get("optStatus") != OPT_OUT:
        return None
    if scope == "pair" and frm not in (sender, EVERY_SENDER):
        return None
    return tuple("" if record.get(k) is None else str(record.get(k)) for k in COLUMNS)


@dataclass(frozen=True, slots=True)
class Failure:
    """One line of the pushed file that did not become an opt-out on RingCentral."""

    line: int | None
    to: str
    code: str
    message: str

    def __str__(self) -> str:
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
