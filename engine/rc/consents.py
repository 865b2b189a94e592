"""Reading the account's opt-outs with the v2 SMS consents API
(reference/ringcentral-preflight-openapi.json): the paged search and the CSV export, each a
Light request through the ApiClient (its token, rate budget and retry policy); the search
is engine/rc/optouts.py's. Which one to use is decided in engine/core/consent.py; this
module only reads.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.core.consent import OptOut, from_export, from_search
from engine.core.exportend import cut_short
from engine.errors import BadBodyError
from engine.rc import optouts
from engine.rc.client import ApiClient


@dataclass(slots=True)
class Read:
    """What one read brought: the opt-outs (None: a 304, the cached ones still hold), the
    answer's ETag and the Light requests it took."""

    opt_outs: list[OptOut] | None
    etag: str | None
    requests: int = 0
    pages: list[int] = field(default_factory=list)  # records a page, for a search


def etag_of(headers: Mapping[str, str]) -> str | None:
    """The ETag header, whatever the case its name came in."""
    for name, value in headers.items():
        if name.lower() == "etag":
            return value
    return None


async def search(client: ApiClient, sender: str | None = None) -> Read:
    """Every OptOut record (of ``sender`` only, when given), page after page of 1,000, as
    ``a2p optouts pull`` reads them (engine/rc/optouts.py)."""
    read = Read([], None)
    assert read.opt_outs is not None
    async for page in optouts.opt_outs(client, "account" if sender is None else "pair",
                                       sender):
        read.requests += 1
        read.pages.append(len(page))
        read.opt_outs += from_search(page)
    return read


async def export(client: ApiClient, etag: str | None = None) -> Read:
    """The export's opt-outs; with ``etag``, asked with If-None-Match, so an unchanged set
    comes back as a 304 with no body (``opt_outs`` None)."""
    headers = {"Accept": "text/csv"}
    if etag:
        headers["If-None-Match"] = etag
    # a 304 is taken at once either way: asked unconditionally it is refused, not retried
    reply = await client.read("GET", f"{optouts.consents_path(client)}/export", headers=headers,
                              not_modified=True)
    tag = etag_of(reply.headers) or etag
    if reply.status == 304:
        if etag is None:
            raise BadBodyError(unasked_304(reply.headers), 304)
        return Read(None, tag, 1)
    try:
        text = reply.body.decode("utf-8-sig")
        refuse_cut(text)
        opt_outs = from_export(csv.reader(io.StringIO(text, newline="")))
    except (UnicodeDecodeError, ValueError, csv.Error) as exc:
        raise BadBodyError(f"GET .../sms/consents/export: the answer is not the CSV the spec "
                           f"describes ({exc}); first bytes: {reply.body[:80]!r}",
                           reply.status) from exc
    return Read(opt_outs, tag, 1)


def refuse_cut(text: str) -> None:
    """A BadBodyError when the export's CSV was cut short (engine/core/exportend.py): its
    opt-outs would be read as fewer, and the missing ones texted."""
    seen = cut_short(text)
    if seen is not None:
        raise BadBodyError(f"GET .../sms/consents/export: the CSV was cut short ({seen}; "
                           f"{len(text):,} characters came): a server or a gateway (a proxy) "
                           "ended the answer early, and the opt-outs after the cut would be "
                           "texted; if it recurs, look at what stands between this machine and "
                           "RingCentral", 200)


def unasked_304(headers: Mapping[str, str]) -> str:
    """What an unconditional export answered 304 says: nothing to read, no cache to keep."""
    via = headers.get("Via") or headers.get("via")
    return ("GET .../sms/consents/export: answered 304 Not Modified, but it was asked without "
            "If-None-Match, so there is no earlier copy to keep and no opt-out to read"
            f"{f' (Via: {via[:80]})' if via else ''}: a cache or a gateway (a proxy) between "
            "this machine and RingCentral answered in its place; make it pass the consent "
            "export through")
