"""Reading the account's opt-outs with the v2 SMS consents API
(reference/ringcentral-preflight-openapi.json): the paged search and the CSV export, each a
Light request through the ApiClient (its token, rate budget and retry policy); the search
is engine/rc/optouts.py's. Which one to use is decided in engine/core/consent.py; this
module only reads.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.core.consent import OptOut, from_export, from_search
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
    comes back as a 304 with no body (``opt_outs`` None). The CSV goes to a temporary file
    and is read a line at a time: an account's export outgrows what an answer may hold in
    memory (16 MiB: some 195,000 records)."""
    headers = {"Accept": "text/csv"}
    if etag:
        headers["If-None-Match"] = etag
    with tempfile.TemporaryFile() as spool:
        reply = await client.read("GET", f"{optouts.consents_path(client)}/export",
                                  headers=headers, not_modified=etag is not None, into=spool)
        tag = etag_of(reply.headers) or etag
        if reply.status == 304:
            return Read(None, tag, 1)
        spool.seek(0)
        text = io.TextIOWrapper(spool, encoding="utf-8-sig", newline="")
        try:
            opt_outs = from_export(csv.reader(text))
        except (UnicodeDecodeError, ValueError, csv.Error) as exc:
            spool.seek(0)
            raise BadBodyError(f"GET .../sms/consents/export: the answer is not the CSV the "
                               f"spec describes ({exc}); first bytes: {spool.read(80)!r}",
                               reply.status) from exc
        finally:
            text.detach()
    return Read(opt_outs, tag, 1)
