"""RingCentral's v2 SMS consents, as ``a2p optouts`` uses them: the opt-outs read page by
page (``POST .../sms/consents/search``) and local opt-outs written (``PATCH
.../sms/consents``), both in the Light group (reference/ringcentral-preflight-openapi.json,
"SMS Consents"). Reaches HTTP only through the ApiClient.

Both are safe to send again after a lost answer: a search reads, and a PATCH that sets a
pair to OptOut leaves the same record however often it is applied. So every transient
failure is retried by the one policy, as a GET is.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import anyio
import orjson

from engine.core.optouts import search_bodies
from engine.core.paging import PageWalk
from engine.core.policy import Action, Kind, classify, decide, unanswered
from engine.errors import (
    AmbiguousSendError,
    EngineError,
    NotSentError,
    RequestRejectedError,
    ServerError,
)
from engine.rc.client import ApiClient
from engine.rc.transport import error_of, page_of


def consents_path(client: ApiClient) -> str:
    """``/restapi/v2/accounts/{accountId}/sms/consents`` of the client's account."""
    return f"/restapi/v2/accounts/{client.settings.account}/sms/consents"


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


async def idempotent_json(client: ApiClient, method: str, path: str, body: Mapping[str, Any],
                          *, clock: Clock = time.monotonic, sleep: Sleep = anyio.sleep) -> Any:
    """A request that may be sent again whatever happened to the last (a search, a PATCH
    setting a status), retried as a GET is; raises RequestRejectedError on a 4xx."""
    started = clock()
    payload = orjson.dumps(body)
    for attempt in itertools.count(1):
        failure: EngineError | None = None
        try:
            reply = await client.call(method, path, body=payload)
            verdict, wait = classify(reply.status, Kind.READ), client.asked_wait(reply)
        except (NotSentError, AmbiguousSendError) as exc:
            failure, wait = exc, None
            verdict = unanswered(isinstance(exc, AmbiguousSendError), Kind.READ)
        step = decide(verdict, attempt, clock() - started, wait,
                      kind=Kind.READ, rules=client.settings.retry)
        if step.action is Action.DONE:
            return reply.json()
        if step.action is Action.FAIL:
            code, message = error_of(reply)
            raise RequestRejectedError(reply.status, code, f"{method} {path}: {message}")
        if step.action is Action.GIVE_UP:
            if failure is not None:
                raise failure
            raise ServerError(f"{method} {path}: no good answer after {attempt} tries (last "
                              f"HTTP {reply.status}); the server is failing or another "
                              "process takes the Light budget. Run the same command again "
                              "later: it is safe to repeat.")
        if step.delay > 0:
            await sleep(step.delay)
    raise AssertionError("unreachable")


async def opt_outs(client: ApiClient, scope: str, sender: str | None
                   ) -> AsyncIterator[list[dict[str, Any]]]:
    """The account's opt-out records a page (up to 1,000) at a time: every sender's
    (``account``) or ``sender``'s alone (``pair``)."""
    path = f"{consents_path(client)}/search"
    for k, first in enumerate(search_bodies(scope, sender)):
        walk = PageWalk("POST .../sms/consents/search")
        body = first
        while True:
            records, token = walk.page(page_of(await idempotent_json(client, "POST", path,
                                                                     body)))
            if k:  # the account-wide ones taken on the sender came with the first search
                records = [r for r in records if r.get("from") != sender]
            yield records
            if not token:
                break
            body = {**first, "pageToken": token}


async def patch(client: ApiClient, body: Mapping[str, Any]) -> Any:
    """One ``PATCH .../sms/consents`` (at most 1,000 records); its answer, whose
    ``failedRecords`` lists the records not applied."""
    return await idempotent_json(client, "PATCH", consents_path(client), body)
