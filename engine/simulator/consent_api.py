"""The v2 SMS consents API (reference/ringcentral-preflight-openapi.json, "SMS Consents"):
search (paged), the deprecated GET listing, the CSV export and PATCH, all from the account's
ConsentStore, each answer with an ``ETag``: the store's version, which any change moves on.

Requests are checked against the spec's schemas (a body or parameter that breaks one is a 400
``CMN-101`` naming it); a PATCH record the schema allows but the account cannot take (a
``from`` that is not the account's, a ``to`` that is) comes back in ``failedRecords``.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from collections.abc import Sequence
from typing import Any

import orjson
from aiohttp import web

from engine.simulator.a2p import read_limited
from engine.simulator.consents import (
    OPT_OUT,
    OPT_STATUSES,
    SOURCES,
    ConsentStore,
    Query,
    Record,
    is_e164,
)
from engine.simulator.replies import json_response
from engine.simulator.state import SIMULATOR
from engine.simulator.store import RequestError, invalid_parameter
from engine.simulator.views import iso

CONSENTS = "/restapi/v2/accounts/{accountId}/sms/consents"
COVERAGES = ("PhoneNumber", "Account", "CampaignType")  # SmsConsentCoverageEnum
CAMPAIGN_TYPES = ("Conversational", "Informational", "Promotional")  # SmsCampaignTypeEnum
MAX_PER_PAGE = 1000  # PerPage: "greater than a maximum, the maximum value is applied"
MAX_FILTER = 20  # SearchSmsConsentRecordsRequest: from and to, at most 20 each
MAX_PATCH = 1000  # UpdateOptRecordList.records maxItems
# The export's columns, in the spec's order (exportSmsConsentRecords). The spec calls the
# external party the "sender" (of the STOP: the recipient, `to`) and the internal party the
# "recipient" (the account's number, `from`), as the search's `from` is "the internal party".
EXPORT_COLUMNS = ("External Party Number", "Internal Party Number", "Consent Status", "Source",
                  "Coverage", "Campaign Type", "Notes", "Last Modified Time")


def record_view(record: Record) -> dict[str, Any]:
    """SmsOptRecord."""
    return {"from": record.sender, "to": record.to, "optStatus": record.status,
            "source": record.source, "lastModifiedTime": iso(record.modified)}


def etag(store: ConsentStore) -> str:
    return f'"{store.version}"'


def page_token(after: int) -> str:
    """An opaque token, shaped like RingCentral's ("Rjo1MTIwMjI=" is base64 of "F:512022")."""
    return base64.b64encode(f"F:{after}".encode()).decode()


def read_page_token(token: str | None) -> int:
    if token is None:
        return 0
    try:
        text = base64.b64decode(token.encode(), validate=True).decode()
    except (binascii.Error, UnicodeError):
        raise invalid_parameter("pageToken") from None
    mark, _, after = text.partition(":")
    if mark != "F" or not after.isdigit() or len(after) > 12:
        raise invalid_parameter("pageToken")
    return int(after)


def per_page_of(value: object, default: int = 100) -> int:
    """A perPage of 1 or more; above 1,000 the maximum applies (the spec's words)."""
    if value is None:
        return default
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:  # not a number, or more digits than int() takes
            value = None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise invalid_parameter("perPage", "Use a whole number from 1 (at most 1000 apply).")
    return min(value, MAX_PER_PAGE)


def record_list(store: ConsentStore, query: Query, token: str | None, per_page: int
                ) -> web.Response:
    """One page of an OptRecordList, with the store's ETag."""
    after = read_page_token(token)
    records, last = store.page(query, after, per_page)
    paging: dict[str, Any] = {"perPage": per_page, "pageToken": token or page_token(0),
                              "firstPageToken": page_token(0)}
    if last is not None:
        paging["nextPageToken"] = page_token(last)
    body = {"records": [record_view(r) for r in records], "paging": paging}
    return json_response(body, headers={"ETag": etag(store)})


# Checking what the spec's schemas allow ------------------------------------------------------

def numbers_in(value: object, name: str, most: int | None) -> frozenset[str]:
    """An array of 1..``most`` distinct E.164 numbers (None: the parameter is absent)."""
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not value or (most is not None and len(value) > most):
        raise invalid_parameter(name, f"Give 1 to {most or 'any number of'} numbers.")
    if not all(is_e164(v) for v in value) or len(set(value)) != len(value):
        raise invalid_parameter(name, "Use distinct E.164 numbers such as +16505550100.")
    return frozenset(value)


def choices_in(value: object, name: str, allowed: Sequence[str]) -> frozenset[str]:
    """An array of distinct values from ``allowed`` (None: absent)."""
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not value or len(set(map(str, value))) != len(value) \
            or not all(isinstance(v, str) and v in allowed for v in value):
        raise invalid_parameter(name, f"Use distinct values of {', '.join(allowed)}.")
    return frozenset(value)


async def json_body(request: web.Request) -> dict[str, Any]:
    raw = await read_limited(request, request.app[SIMULATOR].settings.max_body_bytes)
    if raw is None:
        raise RequestError(413, "AGW-413", "Request entity too large")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RequestError(400, "CMN-104", "Cannot parse request") from None
    if not isinstance(body, dict):
        raise RequestError(400, "CMN-104", "Cannot parse request")
    return body


def query_number(raw: str) -> str:
    """A number from a query string, where an unencoded ``+`` arrives as a space."""
    text = raw.strip()
    return f"+{text}" if text[:1].isdigit() else text


# The handlers ------------------------------------------------------------------------------

async def search(request: web.Request) -> web.Response:
    """POST .../sms/consents/search: the records matching the body's filters, paged."""
    body = await json_body(request)
    status = body.get("optStatus")
    if status is not None and status not in OPT_STATUSES:
        raise invalid_parameter("optStatus", "Use OptOut or OptIn.")
    choices_in(body.get("campaignType"), "campaignType", CAMPAIGN_TYPES)
    query = Query(senders=numbers_in(body.get("from"), "from", MAX_FILTER),
                  recipients=numbers_in(body.get("to"), "to", MAX_FILTER),
                  statuses=frozenset([status]) if status is not None else frozenset(),
                  coverage=choices_in(body.get("coverage"), "coverage", COVERAGES))
    token = body.get("pageToken")
    if token is not None and not isinstance(token, str):
        raise invalid_parameter("pageToken")
    store = settled(request)
    request.app[SIMULATOR].stats["consents_search"] += 1  # tests count the pages read
    return record_list(store, query, token, per_page_of(body.get("perPage")))


async def list_consents(request: web.Request) -> web.Response:
    """GET .../sms/consents (deprecated for the search): the same records by query string;
    ``optStatus`` defaults to OptOut, as the spec says."""
    q = request.query

    def many(name: str) -> list[str] | None:
        return q.getall(name) if name in q else None

    froms, tos = many("from"), many("to")
    statuses = choices_in(many("optStatus"), "optStatus", OPT_STATUSES) or frozenset([OPT_OUT])
    choices_in(many("campaignType"), "campaignType", CAMPAIGN_TYPES)
    query = Query(
        senders=numbers_in(None if froms is None else [query_number(n) for n in froms],
                           "from", None),
        recipients=numbers_in(None if tos is None else [query_number(n) for n in tos],
                              "to", None),
        statuses=statuses, coverage=choices_in(many("coverage"), "coverage", COVERAGES))
    store = settled(request)
    if request.headers.get("If-None-Match") == etag(store):
        return web.Response(status=304, headers={"ETag": etag(store)})
    return record_list(store, query, q.get("pageToken"), per_page_of(q.get("perPage")))


async def export(request: web.Request) -> web.Response:
    """GET .../sms/consents/export: every record of the account as CSV, the spec's columns."""
    store = settled(request)
    tag = etag(store)
    if request.headers.get("If-None-Match") == tag:
        return web.Response(status=304, headers={"ETag": tag})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for r in store.records():
        writer.writerow((r.to, r.sender, r.status, r.source, "PhoneNumber", "", "",
                         iso(r.modified)))
    text = out.getvalue()
    if request.app[SIMULATOR].faults.consent_export_cut:
        text = text[: len(text) // 2].rstrip("\r\n")[:-1]  # mid-row, never at a line end
    return web.Response(text=text, content_type="text/csv", headers={"ETag": tag})


async def patch(request: web.Request) -> web.Response:
    """PATCH .../sms/consents: add or change up to 1,000 records; those the account cannot
    take come back in ``failedRecords`` with their error, the others are applied."""
    records = (await json_body(request)).get("records")
    if not isinstance(records, list) or not 1 <= len(records) <= MAX_PATCH:
        raise invalid_parameter("records", f"Give 1 to {MAX_PATCH} records.")
    for n, record in enumerate(records):
        check_update(record, f"records[{n}]")
    sim = request.app[SIMULATOR]
    # tests prove a writer's requests by these: how many, how many records, the largest
    sim.stats["consents_patch"] += 1
    sim.stats["consents_patch_records"] += len(records)
    sim.stats["consents_patch_largest"] = max(sim.stats["consents_patch_largest"], len(records))
    store = settled(request)
    own = set(store.numbers)
    failed = []
    for record in records:
        error = refusal(record, own)
        if error is not None:
            failed.append({**{k: record[k] for k in ("from", "to", "optStatus", "source")},
                           "error": error})
            continue
        store.set(record["from"], record["to"], record["optStatus"], record["source"],
                  sim.now())
    body = {"failedRecords": failed} if failed else {}
    return json_response(body, headers={"ETag": etag(store)})


def check_update(record: object, where: str) -> None:
    """UpdateSmsOptRecord: ``to`` and ``from`` (or ``*``, all the account's numbers, as the
    consent guide allows) E.164, ``optStatus`` and ``source`` from their enums."""
    if not isinstance(record, dict):
        raise invalid_parameter(where, "Each record is an object.")
    if not is_e164(record.get("to")):
        raise invalid_parameter(f"{where}.to", "Use an E.164 number such as +16505550100.")
    sender = record.get("from")
    if sender != "*" and not is_e164(sender):
        raise invalid_parameter(f"{where}.from", "Use an E.164 number of the account, or *.")
    if record.get("optStatus") not in OPT_STATUSES:
        raise invalid_parameter(f"{where}.optStatus", "Use OptOut or OptIn.")
    if record.get("source") not in SOURCES:
        raise invalid_parameter(f"{where}.source", f"Use one of {', '.join(SOURCES)}.")


def refusal(record: dict[str, Any], own: set[str]) -> dict[str, Any] | None:
    """The ApiError of a well-formed record the account cannot take, else None."""
    if record["from"] != "*" and record["from"] not in own:
        return {"errorCode": "CMN-102", "message": "Resource for parameter [from] is not found."
                " Use a phone number of the account.", "parameterName": "from"}
    if record["to"] in own:
        return {"errorCode": "CMN-101", "message": "Parameter [to] value is invalid."
                " A number of the account cannot opt out of itself.", "parameterName": "to"}
    return None


def settled(request: web.Request) -> ConsentStore:
    """The store with the recipients' replies due by now applied; refused as RingCentral
    refuses an app without the SMS permission when the ``consent_refused`` fault is on."""
    sim = request.app[SIMULATOR]
    if sim.faults.consent_refused:
        raise RequestError(403, "CMN-408", "In order to call this API endpoint, application "
                           "needs to have [SMS] permission")
    store = sim.store.consents
    store.settle(sim.now())
    return store
