"""Which of RingCentral's consent records suppress a recipient, and how to read them for the
fewest Light requests (reference/ringcentral-preflight-openapi.json, "SMS Consents").

RingCentral keeps one record per (sender, recipient) pair. It accepts a message to an
opted-out pair in the batch's 201 and fails it later (``SendingFailed``, ``SMS-RC-413``), so
the engine reads the records before the first POST and never sends to those pairs.

Scopes (``--suppress-scope``):

- ``account`` (the default): an opt-out to any number of the account suppresses the
  recipient for every sender: stricter than RingCentral's per-pair rule, and what the FCC's
  revocation rule (an opt-out "by any reasonable means") points to.
- ``pair``: only an opt-out to this sender (or one covering the whole account) suppresses,
  as RingCentral itself judges.

How to read them. Every consent operation is in the Light group (50 requests a minute):

- ``POST .../sms/consents/search`` with ``optStatus`` OptOut (and ``from`` the sender under
  ``pair``): pages of at most 1,000 records, so ``ceil(opt-outs / 1000)`` requests (100 for
  100,000 opt-outs, two minutes of the Light budget);
- ``GET .../sms/consents/export``: every record of the account as one CSV, one request
  whatever their number, and a GET, so ``If-None-Match`` with the last ETag costs one request
  and no body when nothing changed (a conditional POST would be a 412, not a 304).

So the export, unless the opt-outs in scope are known (from the last read) to fit one search
page: then the search costs the same single request and brings only those records. The list's
size does not enter: a search by ``to`` (20 numbers a request) would cost 50,000 requests for
a million recipients.

Pure: the times are passed in, the records are parsed from what the HTTP layer read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.core.optouts import (
    ACCOUNT_COVERAGES,
    EVERY_SENDER,
    OPT_IN,
    OPT_OUT,
    PER_PAGE,
    record_sender,
    status_of,
    wanted,
    without_extension,
)
from engine.core.optouts import SCOPES as SCOPES  # the consent read's scopes are a pull's
from engine.errors import UsageError

DEFAULT_SCOPE = "account"
DEFAULT_MAX_AGE = 15 * 60.0  # seconds: --max-consent-age
SEARCH, EXPORT, CONDITIONAL, CACHED = "search", "export", "conditional-export", "cached"
# The export's columns (exportSmsConsentRecords): the spec names the recipient of the
# campaign the "External Party" and the account's number the "Internal Party".
COLUMN_TO, COLUMN_FROM = "External Party Number", "Internal Party Number"
COLUMN_STATUS, COLUMN_COVERAGE, COLUMN_TIME = "Consent Status", "Coverage", "Last Modified Time"
COLUMN_SOURCE = "Source"
# Header names, matched whatever their case: the spec's, and the short form RingCentral's
# consent guide shows (``FROM,TO,STATUS,SOURCE``: FROM the account's number, TO the
# recipient, as the search's ``from`` and ``to``)
COLUMNS = {name.casefold(): name for name in (COLUMN_TO, COLUMN_FROM, COLUMN_STATUS,
                                              COLUMN_COVERAGE, COLUMN_TIME, COLUMN_SOURCE)}
COLUMNS |= {"to": COLUMN_TO, "from": COLUMN_FROM, "status": COLUMN_STATUS,
            "source": COLUMN_SOURCE}
# The whole headers known (casefolded): the spec's eight columns and the guide's four
HEADERS = frozenset({
    ("external party number", "internal party number", "consent status", "source",
     "coverage", "campaign type", "notes", "last modified time"),
    ("from", "to", "status", "source")})
# Written into every description of a recipient suppressed by a consent record; counted by
# it (engine/core/aggregator.py, ``suppressed_by_source``) apart from the suppression files.
CONSENT_MARK = "RingCentral consent record"


@dataclass(frozen=True, slots=True)
class OptOut:
    """One opt-out: the recipient, the account's number it opted out of (``*``: all of them),
    the record's ``lastModifiedTime`` as RingCentral wrote it, and its ``source`` (Recipient,
    Api, ...: what ``a2p optouts pull`` writes; a send does not keep it)."""

    to: str
    sender: str
    modified: str
    source: str = ""


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise UsageError(f"suppress scope {scope!r}: use account (an opt-out to any number "
                         "of the account suppresses the recipient) or pair (only an opt-out "
                         "to this sender does).")
    return scope


def applies(record: OptOut, scope: str, sender: str) -> bool:
    """Whether ``record`` keeps ``sender`` from texting its recipient under ``scope``."""
    return scope == "account" or record.sender in (sender, EVERY_SENDER)


def in_scope(records: Iterable[OptOut], scope: str, sender: str) -> list[OptOut]:
    return [r for r in records if applies(r, scope, sender)]


def search_requests(opt_outs: int) -> int:
    """Light requests a paged search takes for ``opt_outs`` records (one for none)."""
    return max(1, math.ceil(opt_outs / PER_PAGE))


@dataclass(frozen=True, slots=True)
class Cached:
    """What a cache beside the journal says of the last read."""

    read_at: float  # epoch seconds
    method: str  # SEARCH or EXPORT
    sender_filter: str | None  # the search's ``from`` (None: the whole account)
    etag: str | None
    opt_outs: int  # records read


@dataclass(frozen=True, slots=True)
class Choice:
    """How to get the opt-outs now: CACHED (no request), CONDITIONAL (the export with
    If-None-Match), EXPORT or SEARCH (``sender_filter``: its ``from``)."""

    method: str
    sender_filter: str | None = None
    why: str = ""


def usable(cached: Cached, scope: str, sender: str) -> bool:
    """Whether the cached records hold every opt-out ``scope`` needs for ``sender``: an export
    or an account-wide search serves both scopes, a search of one sender only its pairs."""
    return cached.sender_filter is None or (scope == "pair" and cached.sender_filter == sender)


def fresh(cached: Cached, now: float, max_age: float) -> bool:
    """Read at most ``max_age`` seconds ago (a clock set back makes it stale, not fresher)."""
    return 0.0 <= now - cached.read_at < max_age


def choose(cached: Cached | None, scope: str, sender: str, now: float, max_age: float
           ) -> Choice:
    """The cheapest way to the opt-outs ``scope`` needs (see the module's docstring)."""
    check_scope(scope)
    if cached is not None and usable(cached, scope, sender):
        if fresh(cached, now, max_age):
            return Choice(CACHED, why=f"read {now - cached.read_at:.0f} s ago, within "
                          f"--max-consent-age {max_age:.0f} s: no request")
        if cached.method == EXPORT and cached.etag and cached.opt_outs > PER_PAGE:
            return Choice(CONDITIONAL, why="the export again with If-None-Match: 1 Light "
                          "request, no body when nothing changed")
        if cached.opt_outs <= PER_PAGE:
            wanted = sender if scope == "pair" else None
            return Choice(SEARCH, wanted, why=f"{cached.opt_outs:,} opt-outs last time fit "
                          "one search page: 1 Light request, only the opt-outs")
    return Choice(EXPORT, why="the export: 1 Light request whatever the number of opt-outs "
                  f"(a search takes one per {PER_PAGE:,})")


def from_search(records: Iterable[Mapping[str, Any]]) -> Iterator[OptOut]:
    """The opt-outs of search pages (SmsOptRecord): those whose ``optStatus`` is OptOut, one
    of coverage Account for every sender (``optouts.wanted``, as a pull keeps them; a status
    neither OptOut nor OptIn is a ValueError)."""
    return (OptOut(without_extension(record["to"]), record_sender(record),
                   str(record.get("lastModifiedTime") or ""), str(record.get("source") or ""))
            for record in records if wanted(record, "account", None))


def export_header(row: Sequence[str]) -> dict[str, int]:
    """Each known column's position in the export's header row (its names matched whatever
    their case, ``COLUMNS``); a ValueError when the recipient or the status column is
    missing."""
    header = [name.strip().lstrip("\ufeff") for name in row]
    col: dict[str, int] = {}
    for k, name in enumerate(header):
        known = COLUMNS.get(name.casefold())
        if known is not None:
            col.setdefault(known, k)
    missing = [c for c in (COLUMN_TO, COLUMN_STATUS) if c not in col]
    if missing:
        raise ValueError(f"the consent export has no {' or '.join(missing)} column (its "
                         f"header: {', '.join(header)[:200]}; the spec's header or "
                         "FROM,TO,STATUS,SOURCE is read)")
    return col


class _Cells:
    """The export's cells by column name, its header read (``export_header``)."""

    def __init__(self, header: Sequence[str]) -> None:
        self.col = export_header(header)

    def __call__(self, row: Sequence[str], name: str) -> str:
        k = self.col.get(name)
        return row[k].strip() if k is not None and k < len(row) else ""

    def status(self, row: Sequence[str], number: int) -> str | None:
        """OptOut or OptIn; None for a blank line; a ValueError naming the row otherwise."""
        if not any(value.strip() for value in row):
            return None  # a blank line carries no record
        try:
            return status_of(self(row, COLUMN_STATUS))
        except ValueError as exc:
            raise ValueError(f"data row {number} (recipient {self(row, COLUMN_TO)!r}): "
                             f"{exc}") from None

    def pair(self, row: Sequence[str]) -> tuple[str, str]:
        """The (recipient, sender) a row is about; ``*`` for a record of the account."""
        sender = self(row, COLUMN_FROM)
        if self(row, COLUMN_COVERAGE) in ACCOUNT_COVERAGES or not sender:
            sender = EVERY_SENDER
        return without_extension(self(row, COLUMN_TO)), sender


def opt_ins(rows: Iterable[Sequence[str]]) -> dict[int, str]:
    """A first pass over the export (header first): the latest Last Modified Time of each
    pair's OptIn rows, by the pair's hash; an opt-out older than its pair's opt-in is no
    longer in force (``from_export``). Holds only the opt-ins, which RingCentral records
    after an opt-out alone."""
    it = iter(rows)
    cells = _Cells(next(it, []))
    later: dict[int, str] = {}
    for number, row in enumerate(it, 1):
        if cells.status(row, number) == OPT_IN:
            key, when = hash(cells.pair(row)), cells(row, COLUMN_TIME)
            if key not in later or newer(when, later[key]):
                later[key] = when
    return later


def newer(when: str, than: str) -> bool:
    """Whether the time ``when`` is known to come after ``than`` (an unreadable time or one
    without a zone compared with one with it: not known, so an opt-out stays in force)."""
    try:
        return datetime.fromisoformat(when) > datetime.fromisoformat(than)
    except (ValueError, TypeError):
        return False


def from_export(rows: Iterable[Sequence[str]], later: Mapping[int, str] | None = None
                ) -> Iterator[OptOut]:
    """The opt-outs of the export's CSV rows (header first), found by column name: a record
    whose coverage is the account (``Company``) applies to every sender. The header is read
    (and a missing column refused) at once; the rows as the iterator is consumed, so an
    export of millions is never held. A row whose status is neither OptOut nor OptIn (in
    any case) is a ValueError naming it: read as "not opted out", it would be texted. With
    ``later`` (``opt_ins`` of the same rows), an opt-out its pair's later opt-in undid is
    left out: when the export lists a pair's history, the latest record decides."""
    it = iter(rows)
    cells = _Cells(next(it, []))

    def opt_outs() -> Iterator[OptOut]:
        for number, row in enumerate(it, 1):
            if cells.status(row, number) != OPT_OUT or not cells(row, COLUMN_TO):
                continue
            to, sender = cells.pair(row)
            when = cells(row, COLUMN_TIME)
            if later and newer(later.get(hash((to, sender)), ""), when):
                continue  # opted in again since
            yield OptOut(to, sender, when, cells(row, COLUMN_SOURCE))

    return opt_outs()


def swapped(record: OptOut, sender: str) -> str | None:
    """What is wrong when an opt-out's recipient is ``sender`` itself (a number of the
    account cannot opt out of itself: RingCentral refuses it), else None: the export's two
    party columns were read the wrong way round."""
    if record.to != sender:
        return None
    return (f"an opt-out names {sender}, this run's sender (--from), as the recipient who "
            f"opted out (of {record.sender}): a number of the account cannot opt out of "
            f"itself, so the export looks swapped: its {COLUMN_TO} column (read as the "
            f"recipient, the search's 'to') holds the account's numbers and its "
            f"{COLUMN_FROM} column (read as the account's number, 'from') the recipients. "
            "Read this way every opt-out would suppress the wrong number")


def describe(to: str, record: OptOut) -> str:
    """A suppressed recipient's description: the source (consent), the sender, the time."""
    whom = "every number of the account" if record.sender == EVERY_SENDER else record.sender
    when = f" of {record.modified}" if record.modified else ""
    return f"{to} opted out of texts from {whom} ({CONSENT_MARK}{when}); it is never sent"
