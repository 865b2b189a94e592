"""Reading the account's opt-outs with the v2 SMS consents API
(reference/ringcentral-preflight-openapi.json): the paged search and the CSV export, each a
Light request through the ApiClient (its token, rate budget and retry policy); the search
is engine/rc/optouts.py's. Which one to use is decided in engine/core/consent.py; this
module only reads.
"""

from __future__ import annotations

import csv
import errno
import io
import tempfile
from collections.abc import AsyncIterator, Generator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import IO

from engine.core.consent import OptOut, from_export, from_search, opt_ins
from engine.core.exportend import cut_short
from engine.errors import BadBodyError, ConsentError
from engine.rc import optouts
from engine.rc.client import ApiClient


@dataclass(slots=True)
class Read:
    """What one read brought: the opt-outs (None: a 304, the cached ones still hold; an
    export's are read from its spool as they are iterated, once), the answer's ETag and the
    Light requests it took."""

    opt_outs: Iterable[OptOut] | None
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
    found: list[OptOut] = []
    read = Read(found, None)
    async for page in optouts.opt_outs(client, "account" if sender is None else "pair",
                                       sender):
        read.requests += 1
        read.pages.append(len(page))
        found += from_search(page)
    return read


@asynccontextmanager
async def export(client: ApiClient, etag: str | None = None) -> AsyncIterator[Read]:
    """The export, as ``async with export(client) as read``: ``read.opt_outs`` yields its
    opt-outs while the block runs; with ``etag``, asked with If-None-Match, so an unchanged
    set comes back as a 304 with no body (``opt_outs`` None). The CSV goes to a temporary
    file, checked whole (``refuse_cut``) before any record is yielded, and is read a line at a
    time: an account's export outgrows what an answer may hold in memory (16 MiB: some
    195,000 records), and its records would cost some 200 bytes each as objects."""
    headers = {"Accept": "text/csv"}
    if etag:
        headers["If-None-Match"] = etag
    # a 304 is taken at once either way: asked unconditionally it is refused, not retried
    with tempfile.TemporaryFile() as spool:
        try:
            reply = await client.read("GET", f"{optouts.consents_path(client)}/export",
                                      headers=headers, not_modified=True, into=spool)
        except OSError as exc:
            if exc.errno not in FULL:
                raise
            raise ConsentError(spool_full(exc, spool.tell())) from exc
        tag = etag_of(reply.headers) or etag
        if reply.status == 304:
            if etag is None:
                raise BadBodyError(unasked_304(reply.headers), 304)
            yield Read(None, tag, 1)
            return
        refuse_cut(_ends(spool))
        records = _records(spool, reply.status)
        try:
            yield Read(records, tag, 1)
        finally:
            records.close()  # its text detached while the spool is still open


def _records(spool: IO[bytes], status: int) -> Generator[OptOut, None, None]:
    """The export's opt-outs, read from ``spool`` twice: its opt-ins first (``opt_ins``: an
    opt-out a later opt-in undid is not in force), then its opt-outs; a CSV that is not the
    spec's is a BadBodyError, wherever in the file it shows."""
    try:
        with _text(spool) as text:
            later = opt_ins(csv.reader(text))
        with _text(spool) as text:
            yield from from_export(csv.reader(text), later)
    except (UnicodeDecodeError, ValueError, csv.Error) as exc:
        raise BadBodyError(f"GET .../sms/consents/export: the answer is not the CSV the spec "
                           f"describes ({exc})", status) from exc


@contextmanager
def _text(spool: IO[bytes]) -> Iterator[IO[str]]:
    """The spool from its start as text, left open when done (it is read twice)."""
    spool.seek(0)
    text = io.TextIOWrapper(spool, encoding="utf-8-sig", newline="")
    try:
        yield text
    finally:
        text.detach()


_TAIL = 1 << 16  # bytes read from the end of an export for its last line


def _ends(spool: IO[bytes]) -> str:
    """The export's first line and its last, as text (what ``cut_short`` judges): the file may
    be a gigabyte, and only its ends tell whether it was cut."""
    size = spool.seek(0, io.SEEK_END)
    spool.seek(0)
    first = spool.readline()
    if spool.tell() >= size:
        return first.decode("utf-8-sig", "replace")
    spool.seek(max(spool.tell(), size - _TAIL))
    tail = spool.read()
    if b"\n" in tail[:-1]:
        tail = tail[tail.index(b"\n", 0, len(tail) - 1) + 1:]
    return (first + tail).decode("utf-8-sig", "replace")


# A file that cannot grow: the disk (or the user's quota) is full, or the file outgrew the
# size a process may write (ulimit -f)
FULL = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


def spool_full(exc: OSError, size: int) -> str:
    """What an export that could not be spooled says: where, how far, and the fix."""
    return (f"the consent export could not be written to its temporary file in "
            f"{tempfile.gettempdir()} ({exc.strerror or exc}, after {size / 1e6:,.1f} MB): "
            "nothing was sent. Free space there, or set TMPDIR to a directory with room for "
            "the export (some 100 bytes a consent record) and a file size limit (ulimit -f) "
            "that allows it, and run again")


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
