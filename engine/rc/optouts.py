"""RingCentral's v2 SMS consents, as ``a2p optouts`` uses them: the opt-outs read page by
page (``POST .../sms/consents/search``) and local opt-outs written (``PATCH
.../sms/consents``), both in the Light group (reference/ringcentral-preflight-openapi.json,
"SMS Consents"). Reaches HTTP only through the ApiClient.

Both are safe to send again after a lost answer: a search reads, and a PATCH that sets a
pair to OptOut leaves the same record however often it is applied. So every transient
failure is retried by the one policy, as a GET is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson

from engine.core.optouts import account_wide, checked, search_bodies
from engine.core.paging import PageWalk
from engine.errors import BadBodyError
from engine.rc.client import ApiClient
from engine.rc.transport import page_of


def consents_path(client: ApiClient) -> str:
    """``/restapi/v2/accounts/{accountId}/sms/consents`` of the client's account."""
    return f"/restapi/v2/accounts/{client.settings.account}/sms/consents"


async def idempotent_json(client: ApiClient, method: str, path: str,
                          body: Mapping[str, Any]) -> Any:
    """A request that may be sent again whatever happened to the last (a search, a PATCH
    setting a status): ``ApiClient.read``, retried as a GET is; raises RequestRejectedError
    on a 4xx."""
    return (await client.read(method, path, body=orjson.dumps(body))).json()


async def opt_outs(client: ApiClient, scope: str, sender: str | None
                   ) -> AsyncIterator[list[dict[str, Any]]]:
    """The account's opt-out records a page (up to 1,000) at a time: every sender's
    (``account``) or those keeping ``sender`` from texting (``pair``: its pair's, then the
    account-wide and campaign-type ones, each once: a record of a wide coverage that an
    earlier search brought is dropped from a later one, whatever the server's ``from``
    filter took). A record whose status is neither OptOut nor OptIn is a BadBodyError."""
    path = f"{consents_path(client)}/search"
    seen: set[tuple[str, str, str]] = set()  # wide-coverage records: few
    for k, first in enumerate(search_bodies(scope, sender), 1):
        walk = PageWalk("POST .../sms/consents/search")
        body = first
        pages = 0
        while True:
            records, token = walk.page(page_of(await idempotent_json(client, "POST", path,
                                                                     body)))
            pages += 1
            try:
                checked(records, f"page {pages} of search {k}")
            except ValueError as exc:
                raise BadBodyError(f"POST .../sms/consents/search: {exc}; a search for "
                                   "opt-outs must bring only records the engine can read, "
                                   "or an opt-out could be texted", 200) from exc
            kept = []
            for record in records:
                key = account_wide(record)
                if key is None:
                    kept.append(record)
                elif key not in seen:
                    seen.add(key)
                    kept.append(record)
            yield kept
            if not token:
                break
            body = {**first, "pageToken": token}


async def patch(client: ApiClient, body: Mapping[str, Any]) -> Any:
    """One ``PATCH .../sms/consents`` (at most 1,000 records); its answer, whose
    ``failedRecords`` lists the records not applied."""
    return await idempotent_json(client, "PATCH", consents_path(client), body)
