"""The deprecated v1 opt-outs API of High Volume SMS (reference/ringcentral-a2p-openapi.json:
``readA2PSMSOptOuts``, ``addA2PSMSOptOuts``), served from the same ConsentStore as the v2
consents: what one changes, the other shows."""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp import web

from engine.simulator.a2p import A2P
from engine.simulator.consent_api import (
    json_body,
    page_token,
    per_page_of,
    query_number,
    read_page_token,
    settled,
)
from engine.simulator.consents import OPT_IN, OPT_OUT, ConsentStore, Query, Record, is_e164
from engine.simulator.replies import json_response
from engine.simulator.state import SIMULATOR
from engine.simulator.store import invalid_parameter

OPT_OUTS = f"{A2P}/opt-outs"
STATUS_FILTERS = {"optout": frozenset([OPT_OUT]), "optin": frozenset([OPT_IN]),
                  "all": frozenset()}
# OptOutResponse.source names the v2 source Api "Account".
V1_SOURCES = {"Recipient": "Recipient", "Api": "Account", "Upstream": "Upstream",
              "Carrier": "Carrier"}
CSV_COLUMNS = ("FROM", "TO", "STATUS", "SOURCE")  # the consent guide's CSV header


def v1_view(record: Record) -> dict[str, Any]:
    """OptOutResponse."""
    return {"from": record.sender, "to": record.to, "status": record.status,
            "source": V1_SOURCES[record.source]}


async def read_opt_outs(request: web.Request) -> web.Response:
    """GET .../a2p-sms/opt-outs: ``from`` (``*``: any), ``to``, ``status`` (optout by
    default), paged like the v2 listing; ``Accept: text/csv`` gives the page as CSV."""
    q = request.query
    status = q.get("status", "optout")
    if status not in STATUS_FILTERS:
        raise invalid_parameter("status", "Use optout, optin or all.")
    query = Query(senders=_number_filter(q.get("from"), "from"),
                  recipients=_number_filter(q.get("to"), "to"),
                  statuses=STATUS_FILTERS[status])
    per_page = per_page_of(q.get("perPage"), default=1000)
    token = q.get("pageToken")
    store = settled(request)
    records, last = store.page(query, read_page_token(token), per_page)
    if "text/csv" in request.headers.get("Accept", ""):
        return _csv(records)
    paging: dict[str, Any] = {"perPage": per_page, "pageToken": token or page_token(0),
                              "firstPageToken": page_token(0)}
    if last is not None:
        paging["nextPageToken"] = page_token(last)
    return json_response({"records": [v1_view(r) for r in records], "paging": paging})


def _number_filter(raw: str | None, name: str) -> frozenset[str]:
    if raw is None or (name == "from" and raw.strip() == "*"):
        return frozenset()
    number = query_number(raw)
    if not is_e164(number):
        raise invalid_parameter(name, "Use an E.164 number such as +16505550100.")
    return frozenset([number])


def _csv(records: list[Record]) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in records:
        writer.writerow((r.sender, r.to, r.status, V1_SOURCES[r.source]))
    return web.Response(text=out.getvalue(), content_type="text/csv")


async def bulk_assign(request: web.Request) -> web.Response:
    """POST .../a2p-sms/opt-outs/bulk-assign: opt ``optOuts`` out of ``from`` and ``optIns``
    back in; each number that cannot be is listed in ``failed`` with its errorMessage."""
    body = await json_body(request)
    sim = request.app[SIMULATOR]
    store = settled(request)
    sender = body.get("from")
    if not isinstance(sender, str) or query_number(sender) not in store.numbers:
        raise invalid_parameter("from", "Use a phone number of the account.")
    lists = {key: body.get(key) for key in ("optOuts", "optIns")}
    for key, value in lists.items():
        if value is not None and not (isinstance(value, list)
                                      and all(isinstance(v, str) for v in value)):
            raise invalid_parameter(key, "Give a list of phone numbers.")
    if not (lists["optOuts"] or lists["optIns"]):
        raise invalid_parameter("optOuts", "Give optOuts, optIns or both.")
    answer = {}
    for key, status in (("optOuts", OPT_OUT), ("optIns", OPT_IN)):
        answer[key] = _assign(store, query_number(sender), lists[key] or [], status, sim.now())
    return json_response(answer)


def _assign(store: ConsentStore, sender: str, numbers: list[str], status: str, now: float
            ) -> dict[str, list[Any]]:
    done: list[str] = []
    failed: list[dict[str, str]] = []
    for raw in numbers:
        number = query_number(raw)
        if not is_e164(number) or number in store.numbers:
            failed.append({"to": raw, "errorMessage": f"Invalid recipient number {raw!r}: use"
                           " an E.164 number that is not one of the account's"})
            continue
        store.set(sender, number, status, "Api", now)
        done.append(raw)
    return {"successful": done, "failed": failed}
